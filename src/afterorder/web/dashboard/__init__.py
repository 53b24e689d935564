"""The store dashboard: server-rendered pages behind a login (``/login``, ``/dashboard/<store>/...``)."""
