-- The sales projection: one row per sale, and every order receipt (for a sale's source).
-- Version 2: a sale names its source receipt (source_version) instead of copying its JSON.
CREATE TABLE IF NOT EXISTS sale_receipts (
    order_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    notification_id bigint NOT NULL CONSTRAINT sale_receipts_position_key UNIQUE,
    user_id uuid NOT NULL,
    source jsonb NOT NULL,
    PRIMARY KEY (order_id, originator_version)
);

CREATE TABLE IF NOT EXISTS sales (
    sale_id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    platform text NOT NULL,
    external_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'sale', 'cancelled', 'refunded')),
    platform_status text NOT NULL,
    customer_name text,
    customer_email text,
    lines jsonb NOT NULL CHECK (jsonb_typeof(lines) = 'array'),
    subtotal numeric NOT NULL,
    shipping numeric NOT NULL,
    tax numeric NOT NULL,
    discount numeric NOT NULL,
    total numeric NOT NULL,
    currency text,
    payment_method text,
    recorded_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    source_version bigint NOT NULL,
    refunded numeric NOT NULL DEFAULT 0 CHECK (refunded >= 0),
    deleted_on_platform boolean NOT NULL DEFAULT false,
    CONSTRAINT sales_external_key UNIQUE (user_id, platform, external_id),
    CONSTRAINT sales_source_fkey FOREIGN KEY (sale_id, source_version)
        REFERENCES sale_receipts (order_id, originator_version)
);

CREATE INDEX IF NOT EXISTS sales_user_recorded_idx
    ON sales (user_id, recorded_at DESC, sale_id DESC);

-- Refunds by id: facts the platform never undoes. Kept even before the order is a sale.
CREATE TABLE IF NOT EXISTS sale_refunds (
    order_id uuid NOT NULL,
    refund_id text NOT NULL,
    user_id uuid NOT NULL,
    amount numeric NOT NULL CHECK (amount >= 0),
    created_at timestamptz,
    notification_id bigint NOT NULL UNIQUE,
    PRIMARY KEY (order_id, refund_id)
);

-- Deletion marks may arrive before the order is a sale; the sale starts with them.
CREATE TABLE IF NOT EXISTS order_deletions (
    order_id uuid PRIMARY KEY,
    deleted boolean NOT NULL
);
