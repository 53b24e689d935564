"""The dashboard's pure parts: password hashes, roles, benchmarks, step descriptions, charts."""

from __future__ import annotations

import re

import pytest

from afterorder.analytics.benchmarks import POST_PURCHASE, compare
from afterorder.analytics.flow_status import describe
from afterorder.db.dashboard_users import Role, check_password, hash_password
from afterorder.domain import IndustryError, check_industry
from afterorder.flows.spec import parse_flow
from afterorder.web.dashboard.charts import Series, heat, line_chart

FLOW = parse_flow("""\
id: f
trigger: order.shipped
steps:
  - send: {template: a, category: transactional}
  - wait: {for_event: order.delivered, timeout: 10d}
  - wait: 3d
  - if: {field: order.total, op: gte, value: 10000}
    then:
      - send: {template: big, category: marketing}
    else:
      - exit: small order
""")


def test_a_password_is_stored_salted_and_checked() -> None:
    stored = hash_password("s3cret pass")
    assert stored.startswith("scrypt$") and "s3cret" not in stored
    assert stored != hash_password("s3cret pass")  # a new salt each time
    assert check_password("s3cret pass", stored)
    assert not check_password("s3cret pasS", stored)
    assert not check_password("anything", "md5$abc")


def test_roles() -> None:
    assert Role.OWNER.may_edit() and Role.OWNER.may_administer()
    assert Role.EDITOR.may_edit() and not Role.EDITOR.may_administer()
    assert not Role.VIEWER.may_edit() and not Role.VIEWER.may_administer()


def test_the_benchmark_table_and_the_marks() -> None:
    assert len(POST_PURCHASE) == 11
    food = POST_PURCHASE[check_industry(" Food & Beverage ")]
    assert (food.open_rate, food.click_rate, food.order_rate) == (61.18, 3.85, 0.63)
    with pytest.raises(IndustryError, match="industry: 'pets'"):
        check_industry("pets")
    assert [compare(v, 3.85) for v in (4.0, 3.0, 3.85, None)] == ["above", "below", "equal", "none"]


def test_every_kind_of_step_is_described() -> None:
    described = [describe(i) for i in FLOW.program]
    kinds = [kind for kind, _ in described]
    assert kinds[:4] == ["send", "wait", "wait", "if"]
    assert "exit" in kinds
    assert described[1][1] == "wait for order.delivered (at most 10 d, then continue)"
    assert described[2][1] == "wait 3 d"
    assert re.match(r"if .* \(else step \d+\)", described[3][1])


def test_a_line_chart_has_a_point_per_day_and_a_line_per_series() -> None:
    svg = line_chart(["11-01", "11-02", "11-03"], [Series("sent", "#000", [0, 5, 10]),
                                                  Series("opened", "#111", [0, 2, 4])], title="a <b> title")
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 6
    assert "a &lt;b&gt; title" in svg and "<b>" not in svg
    points = re.search(r'points="([^"]+)"', svg)
    assert points
    ys = [float(p.split(",")[1]) for p in points.group(1).split()]
    assert ys[0] > ys[1] > ys[2]  # higher values are drawn higher up
    assert line_chart([], []).startswith("<svg")


def test_heat_map_colours() -> None:
    assert heat(0) == "#ffffff" and heat(None) == "#ffffff"
    assert heat(100) == "#1f6feb" and heat(250) == "#1f6feb"
