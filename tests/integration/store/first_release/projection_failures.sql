-- Events a projection could not apply. The runner skips such an event (after trying it on
-- its own) rather than stall that read model for every user; each one is kept here, and a
-- rebuild after the fix applies it. A projection with rows here is known to be incomplete.
CREATE TABLE IF NOT EXISTS projection_failures (
    name text NOT NULL,
    notification_id bigint NOT NULL,
    error text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, notification_id)
);
