-- The lookup projection: a platform's external order id to our order (and sale) id.
-- Version 2: the receipts' audit views live in lookup_receipts only; an order names its
-- latest platform status and the receipt of its sale, not copies of their JSON.
-- Versions 3 and 4: the platform status is what the order's events decide (a sale's in its
-- status events, another order's in StatusNoted, once it has one), never a late older
-- receipt's.
CREATE TABLE IF NOT EXISTS order_lookup (
    order_id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    platform text NOT NULL,
    external_id text NOT NULL,
    status text CHECK (status IN ('pending', 'sale', 'cancelled', 'refunded')),
    -- What the latest receipt says; the receipt that made it a sale (NULL: not a sale).
    platform_status text,
    noted boolean NOT NULL DEFAULT false,  -- a StatusNoted set platform_status
    source_version bigint,
    first_received_at timestamptz NOT NULL,
    CONSTRAINT order_lookup_external_key UNIQUE (user_id, platform, external_id)
);

-- Every receipt's audit view, so a sale recorded by a later correction still names the
-- delivery that made it a sale.
CREATE TABLE IF NOT EXISTS lookup_receipts (
    order_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    source jsonb NOT NULL,
    PRIMARY KEY (order_id, originator_version)
);
