-- Where a backfill run stands, per user and platform: written after each page's events are
-- committed, read at the next start, so a run stopped midway resumes from its last committed
-- page (a page read again only finds its orders duplicates). Removed when the run ends.
CREATE TABLE IF NOT EXISTS backfill_checkpoints (
    user_id uuid NOT NULL REFERENCES users (user_id),
    platform text NOT NULL CHECK (platform IN ('woocommerce', 'shopify')),
    since timestamptz NOT NULL,
    until timestamptz,
    started_at timestamptz NOT NULL,
    -- The scan reached, and the token of its next page (NULL: its first).
    scan text NOT NULL CHECK (scan IN ('orders', 'trash', 'products', 'deleted')),
    page text CHECK (length(page) <= 1024),
    -- The newest platform change time seen so far, and the orders the scans returned (the
    -- check for orders deleted for good asks only for the others).
    high_water timestamptz,
    seen text[] NOT NULL DEFAULT '{}',
    saved_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, platform),
    CONSTRAINT backfill_checkpoints_window CHECK (until IS NULL OR until >= since)
);
