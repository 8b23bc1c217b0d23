-- Store API connections, and the webhook signing secrets sealed at rest.
--
-- Secrets are encrypted with the server key (service/accounts/keyring.py), which is never in
-- the database, so SQL cannot encrypt them: this file adds the sealed columns, and the
-- Python step that runs right after every migration (service/accounts/secrets.py,
-- seal_clear_secrets: `ledger db migrate` and the service's start both run it) seals the
-- clear values a database already holds into them and clears the plain ones. From this
-- release the plain columns stay NULL; they are kept only so that an older process still
-- writing during an upgrade loses nothing (its values are sealed at the next start).

-- One store API connection per user and platform, for pulling what webhooks missed
-- (service/accounts/connections.py). base_url: WooCommerce, the store's URL as given;
-- Shopify, https://{shop}.myshopify.com. key_sealed: the WooCommerce consumer key, sealed
-- (NULL for Shopify), and key_prefix the few characters of it that may be shown
-- (adapters.pulling.key_prefix). secret_sealed: the consumer secret or Admin API access token, sealed.
CREATE TABLE IF NOT EXISTS store_connections (
    user_id uuid NOT NULL REFERENCES users (user_id),
    platform text NOT NULL CHECK (platform IN ('woocommerce', 'shopify')),
    base_url text NOT NULL CHECK (base_url ~ '^https?://[^/?#]+'),
    key_sealed bytea,
    key_prefix text CHECK (length(key_prefix) BETWEEN 1 AND 16),
    secret_sealed bytea NOT NULL,
    high_water timestamptz,
    last_run_at timestamptz,
    last_error text CHECK (position(E'\n' IN last_error) = 0),
    failures integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, platform),
    CONSTRAINT store_connections_key_is_woocommerce CHECK (
        (key_sealed IS NULL) = (platform = 'shopify') AND (key_prefix IS NULL) = (key_sealed IS NULL)
    )
);

ALTER TABLE user_secrets ADD COLUMN IF NOT EXISTS secret_sealed bytea;
ALTER TABLE user_secrets ADD COLUMN IF NOT EXISTS previous_sealed bytea;
ALTER TABLE user_secrets DROP CONSTRAINT IF EXISTS user_secrets_current_has_time;
ALTER TABLE user_secrets ADD CONSTRAINT user_secrets_current_has_time
    CHECK ((secret IS NULL AND secret_sealed IS NULL) = (set_at IS NULL));
ALTER TABLE user_secrets DROP CONSTRAINT IF EXISTS user_secrets_previous_has_expiry;
ALTER TABLE user_secrets ADD CONSTRAINT user_secrets_previous_has_expiry
    CHECK ((previous_secret IS NULL AND previous_sealed IS NULL) = (previous_valid_until IS NULL));

-- The server key's fingerprint (HMAC-SHA256 of a fixed label under the key: it reveals
-- nothing of the key), recorded the first time a key is used (service/accounts/key_guard.py).
-- A command or service holding another key is refused while sealed secrets exist, instead of
-- sealing new ones no other process here could open (a var/secret.key made afresh elsewhere).
CREATE TABLE IF NOT EXISTS server_key (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    fingerprint bytea NOT NULL CHECK (length(fingerprint) = 32),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
