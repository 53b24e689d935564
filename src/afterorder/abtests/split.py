"""Which variant a run gets: a pure, deterministic choice by weights, so a retried batch (or another
worker) picks the same one; once a test is decided, everyone gets the winner; a stopped test sends
the message as written."""

from __future__ import annotations

import hashlib

from afterorder.abtests.model import AbTest


def bucket(test_id: int, run_id: int) -> int:
    """A number 0–9999, uniform over runs and independent between tests."""
    digest = hashlib.sha256(f"abtest:{test_id}:run:{run_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000


def choose(test: AbTest, run_id: int) -> str:
    if test.status == "decided" and test.winner is not None:
        return test.winner
    if test.status != "running":
        return test.variants[0].key  # stopped: back to the message as written
    point = bucket(test.id, run_id)
    edge = 0
    for variant in test.variants:
        edge += variant.weight * 100
        if point < edge:
            return variant.key
    return test.variants[-1].key
