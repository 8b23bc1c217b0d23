"""What GET /metrics exposes: the series (series.py) and what is read at scrape time
(sample.py)."""
