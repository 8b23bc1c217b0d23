-- Whose each event is: lets one user's events be read in log order without decoding anyone
-- else's (the audit export). Every event carries its user.
CREATE TABLE IF NOT EXISTS event_owners (
    notification_id bigint PRIMARY KEY,
    user_id uuid NOT NULL,
    originator_id uuid NOT NULL
);

CREATE INDEX IF NOT EXISTS event_owners_user_idx ON event_owners (user_id, notification_id);
