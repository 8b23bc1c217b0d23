"""The platforms this ledger takes webhooks from, by name (the names of
aggregates.values.PLATFORMS)."""

from __future__ import annotations

from service.adapters import shopify, woocommerce
from service.adapters.platform import Platform

PLATFORMS: dict[str, Platform] = {woocommerce.NAME: woocommerce, shopify.NAME: shopify}
