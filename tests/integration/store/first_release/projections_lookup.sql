-- The lookup projection: a platform's external order id to our order (and sale) id.
CREATE TABLE IF NOT EXISTS order_lookup (
    user_id uuid NOT NULL,
    platform text NOT NULL,
    external_id text NOT NULL,
    order_id uuid NOT NULL UNIQUE,
    status text CHECK (status IN ('pending', 'sale', 'cancelled', 'refunded')),
    last_receipt jsonb NOT NULL,
    source jsonb,
    first_received_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, platform, external_id)
);
