"""Read models built from the event log. Each module owns its tables (SQL beside it), how each
event changes them, and the queries that read them. None knows where events come from."""
