"""Alembic environment: the connection is handed in by afterorder.db.migrate."""

from __future__ import annotations

from alembic import context

from afterorder.db.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `afterorder db upgrade`, which supplies the connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
