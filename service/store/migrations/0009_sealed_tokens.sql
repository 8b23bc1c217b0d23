-- The webhook token, sealed with the service's key (service/accounts/sealing.py), so the
-- console's Integrations tab can show it again. Authentication still uses token_hash only;
-- NULL: made before this release or by a `ledger` without the key (rotate to fill it).
ALTER TABLE users ADD COLUMN IF NOT EXISTS token_sealed bytea;
