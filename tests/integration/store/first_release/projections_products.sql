-- The product catalogue, as the platforms last described each product.
CREATE TABLE IF NOT EXISTS products (
    user_id uuid NOT NULL,
    product_ref text NOT NULL,
    platform text NOT NULL,
    external_id text NOT NULL,
    name text,
    sku text,
    price numeric,
    product_type text,
    parent_id text,
    manage_stock text,
    stock_quantity bigint,
    platform_status text,
    modified_at timestamptz,
    updated_at timestamptz NOT NULL,
    source_notification_id bigint NOT NULL,
    PRIMARY KEY (user_id, product_ref)
);
