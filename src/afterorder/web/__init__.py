"""HTTP: the ingest and admin API, the development inbox and the runs page."""
