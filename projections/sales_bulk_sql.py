"""The statements of the sales bulk loader (projections/sales_bulk.py): what each chunk's
fold becomes in the tables."""

from __future__ import annotations

MARK_DELETIONS = """
INSERT INTO order_deletions (order_id, deleted)
SELECT * FROM unnest($1::uuid[], $2::bool[])
ON CONFLICT (order_id) DO UPDATE SET deleted = EXCLUDED.deleted
"""

# Whether a new sale may have refunds or marks to read back (else the two UPDATEs below are
# skipped, which is the common case).
ANY_TRACKED = "SELECT EXISTS (SELECT FROM sale_refunds) OR EXISTS (SELECT FROM order_deletions)"

REFUNDED = """
UPDATE sales s SET refunded = f.total
FROM (SELECT order_id, sum(amount) AS total FROM sale_refunds
      WHERE order_id = ANY($1::uuid[]) GROUP BY order_id) f
WHERE s.sale_id = f.order_id
"""

DELETED = """
UPDATE sales s SET deleted_on_platform = true FROM order_deletions d
WHERE d.order_id = ANY($1::uuid[]) AND d.deleted AND s.sale_id = d.order_id
"""

# Details, status and deletion mark change only where the chunk changed them (NULL: kept).
UPDATE_SALES = """
UPDATE sales s SET
    customer_name = CASE WHEN c.amended THEN c.customer_name ELSE s.customer_name END,
    customer_email = CASE WHEN c.amended THEN c.customer_email ELSE s.customer_email END,
    lines = coalesce(c.lines, s.lines),
    subtotal = coalesce(c.subtotal, s.subtotal),
    shipping = coalesce(c.shipping, s.shipping),
    tax = coalesce(c.tax, s.tax),
    discount = coalesce(c.discount, s.discount),
    total = coalesce(c.total, s.total),
    currency = CASE WHEN c.amended THEN c.currency ELSE s.currency END,
    payment_method = CASE WHEN c.amended THEN c.payment_method ELSE s.payment_method END,
    status = coalesce(c.status, s.status),
    platform_status = coalesce(c.platform_status, s.platform_status),
    refunded = CASE WHEN c.refunded THEN (SELECT sum(f.amount) FROM sale_refunds f
        WHERE f.order_id = s.sale_id) ELSE s.refunded END,
    deleted_on_platform = coalesce(c.deleted, s.deleted_on_platform),
    updated_at = c.updated_at
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::numeric[], $6::numeric[],
    $7::numeric[], $8::numeric[], $9::numeric[], $10::text[], $11::text[], $12::text[],
    $13::text[], $14::timestamptz[], $15::bool[], $16::bool[], $17::bool[])
    AS c(sale_id, customer_name, customer_email, lines, subtotal, shipping, tax, discount,
         total, currency, payment_method, status, platform_status, updated_at, amended,
         refunded, deleted)
WHERE s.sale_id = c.sale_id
"""

RECEIPTS = """
SELECT order_id, originator_version, source->>'platform', source->>'external_id'
FROM sale_receipts WHERE (order_id, originator_version) IN (
    SELECT * FROM unnest($1::uuid[], $2::bigint[]))
"""

PLATFORMS = """
SELECT DISTINCT ON (order_id) order_id, source->>'platform' FROM sale_receipts
WHERE order_id = ANY($1::uuid[])
"""
