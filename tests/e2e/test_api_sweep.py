"""The API swept by schemathesis: every operation of ``/api/openapi.json``, every check.

A real serve on loopback (a SQLite file, a store with orders and customers) with the store's API
key: no answer is a 5xx, every status code is one the document names, every body matches its
schema, and a 4xx is in the error shape ``{"error", "message", "details"?}``.

``make test`` runs a small sweep, derandomized so CI sees the same requests every run;
``make fuzz`` sets ``AFTERORDER_FUZZ_EXAMPLES`` and ``AFTERORDER_FUZZ_RANDOM=1`` for a longer random one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from schemathesis import Case
from schemathesis.config import SchemathesisConfig

from tests.sweep_server import SweepServer, sweep_server

EXAMPLES = int(os.environ.get("AFTERORDER_FUZZ_EXAMPLES", "8"))
RANDOM = os.environ.get("AFTERORDER_FUZZ_RANDOM") == "1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SweepServer]:
    with sweep_server(tmp_path_factory.mktemp("sweep")) as running:
        yield running


# A request these accept by its schema may still be refused for what no schema says: an event type that
# needs its object, a platform's own options, the segment grammar, a period whose end follows its
# start, the caps' CHANNEL:N/HOURS, an unsubscribe token that must be signed, a channel order naming
# each channel once, a shop origin that must be an https origin.  Their refusals are checked like
# every other answer (a documented status, the Error body); only "a request the schema allows is
# accepted" is not asked of them.
SEMANTIC = ["POST /api/v1/events", "POST /api/v1/connections", "PUT /api/v1/segments/{slug}",
            "GET /api/v1/reports/retention", "GET /api/v1/reports/product-cycle", "PATCH /api/v1/compliance",
            "POST /api/v1/unsubscribes", "PATCH /api/v1/channels", "PUT /api/v1/thank-you-block"]


@pytest.fixture(scope="module")
def api_schema(server: SweepServer) -> schemathesis.BaseSchema:
    generation = {"max-examples": EXAMPLES, "mode": "all", "deterministic": not RANDOM}
    config = SchemathesisConfig.from_dict({
        **({} if RANDOM else {"seed": 21}),
        "headers": {"Authorization": f"Bearer {server.api_key}"},
        "generation": generation,
        "request-timeout": 30,
        "operations": [{"include-name": SEMANTIC, "checks": {"positive_data_acceptance": {"enabled": False}}}],
    })
    return schemathesis.openapi.from_url(f"{server.base_url}/api/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_operation_answers_as_documented(case: Case) -> None:
    case.call_and_validate()
