-- The delivery log: one row for every request that reached a webhook URL with a valid token,
-- whatever became of it (service/intake/delivery_log.py writes them, in batches). The body
-- itself is not here: a recorded one is in raw_deliveries under body_sha256 (a duplicate adds
-- a row here, never a body), a quarantined one in the inbox under inbox_id, and one that was
-- not kept (a refused signature pushed out of the inbox, a full inbox) is named by its sha256
-- and size alone. body_sha256 is therefore no foreign key.
--
-- Append-only: a trigger refuses UPDATE, TRUNCATE and DELETE, except the deletes of
-- ledger_prune_deliveries (retention by age and count per user), which alone sets the
-- transaction-local ledger.pruning_deliveries. That is a guard against mistakes, not a
-- permission: the service and its operators share one database role.
CREATE TABLE IF NOT EXISTS deliveries (
    id bigserial PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (user_id),
    received_at timestamptz NOT NULL,
    platform text NOT NULL,
    endpoint text NOT NULL CHECK (endpoint IN ('order', 'product')),
    -- webhook: the answer given to the platform; spool: the spooled or queued delivery
    -- recorded later by the spool's replay (no HTTP answer, so no status).
    via text NOT NULL CHECK (via IN ('webhook', 'spool')),
    topic text,
    delivery_id text,
    event_id text,
    webhook_id text,
    triggered_at text,
    store text,
    body_sha256 text NOT NULL CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
    body_size integer NOT NULL CHECK (body_size >= 0),
    -- NULL: not checked (spooled, queued, unavailable: the replay's row says).
    verification text,
    outcome text NOT NULL CHECK (outcome IN (
        'recorded', 'updated', 'duplicate', 'stale', 'deleted', 'restored', 'received',
        'product_updated', 'ping', 'quarantined', 'not_kept', 'invalid_signature', 'spooled',
        'queued', 'unavailable'
    )),
    reason text,
    status smallint CHECK (status BETWEEN 100 AND 599),
    duration_ms double precision NOT NULL CHECK (duration_ms >= 0),
    sale_id uuid,
    product_ref text,
    external_id text,
    inbox_id bigint,
    positions bigint[] NOT NULL DEFAULT '{}',
    CONSTRAINT deliveries_quarantine_has_reason
        CHECK (outcome NOT IN ('quarantined', 'not_kept') OR reason IS NOT NULL),
    CONSTRAINT deliveries_answer_has_status CHECK ((via = 'webhook') = (status IS NOT NULL))
);

-- Paging newest first, the filters that pick few rows, the newest per endpoint, and the age
-- retention (across users).
CREATE INDEX IF NOT EXISTS deliveries_user_received_idx
    ON deliveries (user_id, received_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS deliveries_user_external_idx
    ON deliveries (user_id, external_id, received_at DESC, id DESC)
    WHERE external_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS deliveries_user_outcome_idx
    ON deliveries (user_id, outcome, received_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS deliveries_user_endpoint_idx
    ON deliveries (user_id, platform, endpoint, received_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS deliveries_received_idx ON deliveries (received_at);

CREATE OR REPLACE FUNCTION ledger_deliveries_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('ledger.pruning_deliveries', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

DROP TRIGGER IF EXISTS deliveries_append_only ON deliveries;
CREATE TRIGGER deliveries_append_only
    BEFORE UPDATE OR DELETE ON deliveries
    FOR EACH ROW EXECUTE FUNCTION ledger_deliveries_guard();
DROP TRIGGER IF EXISTS deliveries_not_truncated ON deliveries;
CREATE TRIGGER deliveries_not_truncated
    BEFORE TRUNCATE ON deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- Retention: rows older than max_age, then each user's beyond their newest max_per_user
-- (only_user: that user's alone). One pruning at a time (another returns 0 at once); how
-- many rows went.
CREATE OR REPLACE FUNCTION ledger_prune_deliveries(
    max_age interval, max_per_user integer, only_user uuid DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    gone bigint := 0;
    n bigint;
    u uuid;
    last_kept record;
BEGIN
    IF NOT pg_try_advisory_xact_lock(431198333302) THEN  -- "deliv"
        RETURN 0;
    END IF;
    PERFORM set_config('ledger.pruning_deliveries', 'on', true);
    DELETE FROM deliveries d
    WHERE d.received_at < now() - max_age AND (only_user IS NULL OR d.user_id = only_user);
    GET DIAGNOSTICS n = ROW_COUNT;
    gone := gone + n;
    FOR u IN SELECT x.user_id FROM users x WHERE only_user IS NULL OR x.user_id = only_user LOOP
        SELECT d.received_at, d.id INTO last_kept FROM deliveries d
        WHERE d.user_id = u
        ORDER BY d.received_at DESC, d.id DESC
        OFFSET max_per_user - 1 LIMIT 1;
        IF FOUND THEN
            DELETE FROM deliveries d
            WHERE d.user_id = u AND (d.received_at, d.id) < (last_kept.received_at, last_kept.id);
            GET DIAGNOSTICS n = ROW_COUNT;
            gone := gone + n;
        END IF;
    END LOOP;
    PERFORM set_config('ledger.pruning_deliveries', 'off', true);
    RETURN gone;
END;
$$;
