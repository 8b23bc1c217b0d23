-- The write path in one round trip, for one delivery or a batch of them (group commit).
--
-- ledger_append takes the events of several deliveries, each delivery numbered 1..n by the
-- per-delivery arrays (its raw body, its user, the store it names), and appends them in one
-- transaction under the table's EXCLUSIVE lock, so commit order stays notification-id order.
-- Each delivery runs in a subtransaction of its own: a delivery whose aggregate version was
-- taken meanwhile ('conflict'), whose store is not the bound one ('unexpected_source') or
-- that fails any other way ('error: ...') appends nothing and returns that failure, and the
-- others commit. A recorded delivery returns one row per event: its position in the log.
-- Binding the store a delivery names happens in the delivery's subtransaction, so only a
-- delivery that reached the ledger binds. Each user's newest position is kept in
-- user_log_heads, which the query API waits for (read-your-writes).

CREATE TABLE IF NOT EXISTS user_log_heads (
    user_id uuid PRIMARY KEY,
    position bigint NOT NULL CHECK (position > 0)
);

CREATE OR REPLACE FUNCTION ledger_append(
    event_delivery int[],
    originator_ids uuid[],
    originator_versions bigint[],
    topics text[],
    states bytea[],
    raw_sha256 text[],
    raw_bodies bytea[],
    user_ids uuid[],
    bind_platforms text[],
    bind_sources text[]
) RETURNS TABLE (delivery int, log_position bigint, failure text)
LANGUAGE plpgsql AS $$
DECLARE
    i int;
    bound text;
    newest bigint;
    last_position bigint;
BEGIN
    PERFORM set_config('lock_timeout', '5s', true);
    LOCK TABLE stored_events IN EXCLUSIVE MODE;
    FOR i IN 1 .. coalesce(array_length(user_ids, 1), 0) LOOP
        BEGIN
            IF bind_sources[i] IS NOT NULL THEN
                INSERT INTO store_bindings (user_id, platform, source)
                VALUES (user_ids[i], bind_platforms[i], bind_sources[i])
                ON CONFLICT (user_id, platform) DO NOTHING;
                SELECT b.source INTO bound FROM store_bindings b
                WHERE b.user_id = user_ids[i] AND b.platform = bind_platforms[i];
                IF bound IS DISTINCT FROM bind_sources[i] THEN
                    delivery := i;
                    log_position := NULL;
                    failure := 'unexpected_source';
                    RETURN NEXT;
                    CONTINUE;
                END IF;
            END IF;
            IF raw_sha256[i] IS NOT NULL THEN
                INSERT INTO raw_deliveries (sha256, body) VALUES (raw_sha256[i], raw_bodies[i])
                ON CONFLICT (sha256) DO NOTHING;
            END IF;
            newest := NULL;
            FOR log_position IN
                WITH inserted AS (
                    INSERT INTO stored_events (originator_id, originator_version, topic, state)
                    SELECT e.o, e.v, e.t, e.s
                    FROM unnest(event_delivery, originator_ids, originator_versions, topics,
                        states) WITH ORDINALITY AS e(d, o, v, t, s, n)
                    WHERE e.d = i
                    ORDER BY e.n
                    RETURNING notification_id
                )
                SELECT notification_id FROM inserted ORDER BY notification_id
            LOOP
                delivery := i;
                failure := NULL;
                newest := log_position;
                RETURN NEXT;
            END LOOP;
            IF newest IS NOT NULL THEN
                last_position := greatest(last_position, newest);
                IF user_ids[i] IS NOT NULL THEN
                    INSERT INTO user_log_heads AS h (user_id, position)
                    VALUES (user_ids[i], newest)
                    ON CONFLICT (user_id) DO UPDATE
                        SET position = greatest(h.position, EXCLUDED.position);
                END IF;
            END IF;
        EXCEPTION
            WHEN unique_violation THEN
                delivery := i;
                log_position := NULL;
                failure := 'conflict';
                RETURN NEXT;
            WHEN OTHERS THEN
                delivery := i;
                log_position := NULL;
                failure := 'error: ' || SQLSTATE || ' ' || SQLERRM;
                RETURN NEXT;
        END;
    END LOOP;
    -- The payload is how far the log reaches with this commit: a runner that has read that
    -- far already need not wake for it.
    IF last_position IS NOT NULL THEN
        PERFORM pg_notify('stored_events', last_position::text);
    END IF;
END;
$$;

-- Any change to who may deliver what (tokens, signing secrets, store bindings) is announced
-- on 'ledger_accounts' when it commits, whichever process made it (the service, the CLI, a
-- psql session), so every process drops its cached copy at once. Row-level: a binding insert
-- that finds one already there (ON CONFLICT DO NOTHING) changes nothing and says nothing.
CREATE OR REPLACE FUNCTION ledger_accounts_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ledger_accounts', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS users_changed ON users;
CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION ledger_accounts_changed();
DROP TRIGGER IF EXISTS users_truncated ON users;
CREATE TRIGGER users_truncated AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_accounts_changed();
DROP TRIGGER IF EXISTS user_secrets_changed ON user_secrets;
CREATE TRIGGER user_secrets_changed AFTER INSERT OR UPDATE OR DELETE ON user_secrets
    FOR EACH ROW EXECUTE FUNCTION ledger_accounts_changed();
DROP TRIGGER IF EXISTS user_secrets_truncated ON user_secrets;
CREATE TRIGGER user_secrets_truncated AFTER TRUNCATE ON user_secrets
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_accounts_changed();
DROP TRIGGER IF EXISTS store_bindings_changed ON store_bindings;
CREATE TRIGGER store_bindings_changed AFTER INSERT OR UPDATE OR DELETE ON store_bindings
    FOR EACH ROW EXECUTE FUNCTION ledger_accounts_changed();
DROP TRIGGER IF EXISTS store_bindings_truncated ON store_bindings;
CREATE TRIGGER store_bindings_truncated AFTER TRUNCATE ON store_bindings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_accounts_changed();
