"""The order a claim's rows are sent in: every store's first, then every store's second, …"""

from __future__ import annotations

from afterorder.db.turns import in_turns


def test_each_store_has_its_turn_before_any_store_has_a_second() -> None:
    picked = [(1, 7), (2, 7), (3, 7), (4, 9), (5, 8), (6, 9)]  # (id, store), oldest first
    assert in_turns(picked) == [1, 4, 5, 2, 6, 3]


def test_one_store_keeps_its_order() -> None:
    assert in_turns([(5, 1), (3, 1), (9, 1)]) == [5, 3, 9]
    assert in_turns([]) == []
