-- The event log, in the table layout of eventsourcing's PostgresApplicationRecorder, so the
-- library's own recorder can read it. Events are immutable: a trigger refuses any change.
CREATE TABLE IF NOT EXISTS stored_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial,
    PRIMARY KEY (originator_id, originator_version)
) WITH (
    autovacuum_enabled = true,
    autovacuum_vacuum_threshold = 100000000,
    autovacuum_vacuum_scale_factor = 0.5,
    autovacuum_analyze_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.01
);

CREATE UNIQUE INDEX IF NOT EXISTS stored_events_notification_id_idx
    ON stored_events (notification_id ASC);

-- The exact bytes of every recorded delivery, keyed by their sha256 (hex). Insert-only: the
-- key is checked against the bytes, and a trigger refuses updates and deletes, so an auditor
-- can re-check a signature years later.
CREATE TABLE IF NOT EXISTS raw_deliveries (
    sha256 text PRIMARY KEY,
    body bytea NOT NULL,
    first_received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT raw_deliveries_sha256_matches_body CHECK (sha256 = encode(sha256(body), 'hex'))
);

CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

DROP TRIGGER IF EXISTS stored_events_append_only ON stored_events;
CREATE TRIGGER stored_events_append_only
    BEFORE UPDATE OR DELETE ON stored_events
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

DROP TRIGGER IF EXISTS raw_deliveries_append_only ON raw_deliveries;
CREATE TRIGGER raw_deliveries_append_only
    BEFORE UPDATE OR DELETE ON raw_deliveries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

-- Where each projection has got to in the log; updated in the same transaction as its tables.
CREATE TABLE IF NOT EXISTS projection_positions (
    name text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
