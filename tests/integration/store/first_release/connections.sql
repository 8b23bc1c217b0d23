-- Per-user platform connections: the signing secret and the store each platform is bound to.

-- Unlike the webhook token and API key (kept only as sha256 hashes in users), a signing secret
-- is stored as given: the service must compute HMAC-SHA256 over each delivery's raw body with
-- the very key the platform uses, and a hash of the key cannot do that. So this table is as
-- sensitive as the secrets themselves: never log its rows, never return them from the API.
-- A secret that is replaced or cleared moves to previous_secret and keeps verifying until
-- previous_valid_until, so a rotation loses no delivery. A NULL secret means verification is
-- off for that platform (the token alone authenticates).
CREATE TABLE IF NOT EXISTS user_secrets (
    user_id uuid NOT NULL REFERENCES users (user_id),
    platform text NOT NULL CHECK (platform IN ('woocommerce', 'shopify')),
    secret text CHECK (length(secret) BETWEEN 1 AND 1024 AND btrim(secret) <> ''),
    set_at timestamptz,
    previous_secret text CHECK (length(previous_secret) BETWEEN 1 AND 1024),
    previous_valid_until timestamptz,
    PRIMARY KEY (user_id, platform),
    CONSTRAINT user_secrets_current_has_time CHECK ((secret IS NULL) = (set_at IS NULL)),
    CONSTRAINT user_secrets_previous_has_expiry
        CHECK ((previous_secret IS NULL) = (previous_valid_until IS NULL))
);

-- The store (X-WC-Webhook-Source, X-Shopify-Shop-Domain) a user's platform connection serves.
-- Bound by the first delivery naming one, so that order 17 of another store is never taken for
-- a duplicate of order 17 of this one. Kept normalised (see service/bindings.py).
CREATE TABLE IF NOT EXISTS store_bindings (
    user_id uuid NOT NULL REFERENCES users (user_id),
    platform text NOT NULL CHECK (platform IN ('woocommerce', 'shopify')),
    source text NOT NULL CHECK (source <> ''),
    bound_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, platform)
);
