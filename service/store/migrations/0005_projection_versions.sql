-- Which version of its code each projection's tables were built by (0001 as first released
-- lacked it; a runner that finds another version rebuilds the projection from the log). A
-- database that ran 0001 as edited in c73521c has it already.
ALTER TABLE projection_positions ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 1;
