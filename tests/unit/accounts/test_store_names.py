"""Store names as compared and bound: one spelling per store."""

from __future__ import annotations

import pytest

from service.accounts import bindings


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://shop.example/", "https://shop.example"),
        ("HTTPS://Shop.Example", "https://shop.example"),
        ("https://shop.example/Tienda/", "https://shop.example/Tienda"),
        (" shop.myshopify.com ", "shop.myshopify.com"),
        ("Shop.MyShopify.com", "shop.myshopify.com"),
        ("", ""),
    ],
)
def test_normalise_source(given, expected):
    assert bindings.normalise_source(given) == expected
