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
    UNIQUE (originator_id, originator_version)
);

CREATE INDEX IF NOT EXISTS stock_movements_product_idx
    ON stock_movements (user_id, product_ref, notification_id);

CREATE TABLE IF NOT EXISTS stock_levels (
    user_id uuid NOT NULL,
    product_ref text NOT NULL,
    platform text NOT NULL,
    external_id text NOT NULL,
    sku text,
    name text,
    quantity bigint NOT NULL DEFAULT 0,
    -- What the platform last said it has; shown for reconciliation, never added in.
    platform_reported_quantity bigint,
    platform_reported_at timestamptz,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, product_ref)
);
