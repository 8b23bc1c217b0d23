"""HTTP edge of the ledger: app factory, adapters, store, spool and logging."""
