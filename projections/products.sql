-- The product catalogue, as the platforms last described each product.
-- Version 2: the trash, and deletion marks that reach entries delivered after them.
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
    -- The delivery shown: the newest by (modified_at, a missing one first, then its body's
    -- sha256), as order snapshots are ordered, so arrival order does not matter.
    source_sha256 text COLLATE "C" NOT NULL,
    -- Deleted on the platform: the entry stays (its stock history too), marked.
    deleted_on_platform boolean NOT NULL DEFAULT false,
    -- In the platform's trash (a WooCommerce deletion notice), shown as its platform status
    -- until a restore, or a delivery modified after trash_after (when the notice reached us:
    -- it carries no time of its own) says otherwise.
    trashed boolean NOT NULL DEFAULT false,
    trash_after timestamptz,
    updated_at timestamptz NOT NULL,
    source_notification_id bigint NOT NULL,
    product_id uuid NOT NULL,
    PRIMARY KEY (user_id, product_ref)
);

CREATE INDEX IF NOT EXISTS products_parent_idx ON products (user_id, platform, parent_id);

-- The latest deletion mark of each product, by the platform's id, so that an entry first
-- delivered after it (a variation of a deleted parent, a late first delivery) starts marked.
CREATE TABLE IF NOT EXISTS product_deletions (
    user_id uuid NOT NULL,
    platform text NOT NULL,
    external_id text NOT NULL,
    deleted boolean NOT NULL,
    trashed boolean NOT NULL,
    trash_after timestamptz,
    notification_id bigint NOT NULL,
    PRIMARY KEY (user_id, platform, external_id)
);
