"""Backfill by pull: what webhooks never delivered, fetched from the stores' own APIs."""
