"""Intake: every way events come in (HTTP API, platform webhooks, files) ends in ``ingest``."""
