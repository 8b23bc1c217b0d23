-- Users and their secrets. Only sha256 hashes of the webhook token and API key are stored.
CREATE TABLE IF NOT EXISTS users (
    user_id uuid PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    api_key_hash bytea NOT NULL UNIQUE CHECK (length(api_key_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    token_rotated_at timestamptz,
    api_key_rotated_at timestamptz
);

-- Deliveries we could not use (kept verbatim for reprocessing) and pings, per user.
CREATE TABLE IF NOT EXISTS inbox (
    inbox_id bigserial PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (user_id),
    platform text NOT NULL,
    endpoint text NOT NULL CHECK (endpoint IN ('order', 'product', 'ping')),
    kind text NOT NULL CHECK (kind IN ('quarantined', 'ping')),
    reason text,
    field text,
    detail text,
    headers jsonb NOT NULL,
    body bytea NOT NULL,
    body_sha256 text NOT NULL,
    received_at timestamptz NOT NULL,
    state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'reprocessed', 'seen')),
    reprocessed_at timestamptz,
    outcome jsonb,
    CONSTRAINT inbox_quarantine_has_reason CHECK (kind <> 'quarantined' OR reason IS NOT NULL)
);

CREATE INDEX IF NOT EXISTS inbox_user_idx ON inbox (user_id, inbox_id DESC);
