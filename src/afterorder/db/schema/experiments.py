"""A/B tests on a flow's send step (issue 7, migration 0011).

A test belongs to one send step of one flow in one store (``flow_id`` + ``step``, the step's index
in the compiled program, with its ``template`` to notice a flow file that moved its steps).  Its
``variants`` are JSON: ``[{"key": "A", "weight": 50}, {"key": "B", "weight": 50, "subject":
{"ja": "…"}, "source": {"ja": "…"}}]`` — A is the step as written; another variant may change the
subject per locale and/or the whole message per locale.  Each outbox row sent under a test records
``ab_test_id`` and ``variant``, which is all the results need.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, String, Table

from afterorder.db.schema.types import Id, UtcDateTime, metadata

ab_tests = Table(
    "ab_tests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("store_id", Id, ForeignKey("stores.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("flow_id", String(64), nullable=False),
    Column("step", Integer, nullable=False),
    Column("template", String(128), nullable=False),
    Column("variants", JSON, nullable=False),
    Column("metric", String(16), nullable=False),  # open | click | order
    Column("confidence", Float, nullable=False),  # e.g. 0.95
    Column("min_sample", Integer, nullable=False),  # delivered messages per variant before a winner
    Column("status", String(16), nullable=False),  # running | decided | stopped
    Column("winner", String(8), nullable=True),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_ab_tests_store_flow_step", "store_id", "flow_id", "step"),
)
