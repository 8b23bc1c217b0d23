"""Platform adapters: WooCommerce or Shopify JSON in, domain values out.

Pure functions only: no I/O, no logging, no clock. Every conversion of a platform value (money,
quantities, ids, timestamps) goes through :mod:`service.adapters.common`.
"""
