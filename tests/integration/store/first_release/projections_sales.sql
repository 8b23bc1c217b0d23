-- The sales projection: one row per sale, and every order receipt (for a sale's source).
CREATE TABLE IF NOT EXISTS sale_receipts (
    order_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    notification_id bigint NOT NULL UNIQUE,
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
    source jsonb NOT NULL,
    UNIQUE (user_id, platform, external_id),
    FOREIGN KEY (sale_id, source_version) REFERENCES sale_receipts (order_id, originator_version)
);

CREATE INDEX IF NOT EXISTS sales_user_recorded_idx
    ON sales (user_id, recorded_at DESC, sale_id DESC);
