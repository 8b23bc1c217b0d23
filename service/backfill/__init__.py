"""Backfill by pull: what a store's API says changed, fed through the webhook's ingest path."""
