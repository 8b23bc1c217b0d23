-- The stock projection: every movement, and each product's level as the sum of its movements.
CREATE TABLE IF NOT EXISTS stock_movements (
    notification_id bigint PRIMARY KEY,
    user_id uuid NOT NULL,
    product_ref text NOT NULL,
    delta bigint NOT NULL CHECK (delta <> 0),
    kind text NOT NULL CHECK (kind IN ('deducted', 'restored', 'adjusted')),
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    line_index integer,
    reason text,
    occurred_at timestamptz NOT NULL,
    -- The event that moved it (for the audit trail), and for an order's movement the receipt
    -- that caused it and the refund, if any; for an adjustment who made it.
    topic text NOT NULL,
    receipt_version bigint,
    refund_id text,
    actor text,
    CONSTRAINT stock_movements_event_key UNIQUE (originator_id, originator_version)
);

CREATE INDEX IF NOT EXISTS stock_movements_product_idx
    ON stock_movements (user_id, product_ref, notification_id);

-- Version 2: whether the platform counts the product, and its newest report by the
-- platform's own clock.
CREATE TABLE IF NOT EXISTS stock_levels (
    user_id uuid NOT NULL,
    product_ref text NOT NULL,
    platform text NOT NULL,
    external_id text NOT NULL,
    sku text,
    name text,
    quantity bigint NOT NULL DEFAULT 0,
    -- The newest product delivery's report, ordered by (report_modified_at, the product's own
    -- modification time in the body, a missing one first; then report_sha256, the body's),
    -- as order snapshots are, so arrival order does not matter: whether the platform counts
    -- this product's stock (NULL: no delivery said), and what it says it has, shown for
    -- reconciliation, never added in. report_recorded_at is when the ledger recorded that
    -- report: reconciliation applies each report once by it.
    tracked boolean,
    platform_reported_quantity bigint,
    report_modified_at timestamptz,
    report_sha256 text COLLATE "C",
    report_recorded_at timestamptz,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, product_ref)
);
