"""SigV4 as the local SES checks it: botocore's signer reproduces AWS's published test-suite
signatures, and the check refuses a request changed after signing, a wrong key, an old date."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from afterorder.dev.sinks.ses import Refused, SignedRequest, check_signature, signature

SUITE: dict[str, Any] = json.loads((Path(__file__).parents[1] / "fixtures" / "channels" / "aws_sigv4_suite.json")
                                   .read_text())
SECRET = SUITE["credentials"]["secret_access_key"]
KEYS = {SUITE["credentials"]["access_key_id"]: SECRET}
SIGNED_AT = datetime.strptime(SUITE["amz_date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
CASES = {case["name"]: case for case in SUITE["cases"]}


def signed(case: dict[str, Any]) -> SignedRequest:
    headers = [(name, value) for name, value in case["headers"]] + [("Authorization", case["authorization"])]
    return SignedRequest(case["method"], case["url"], headers, case["body"].encode())


def check(request: SignedRequest, *, now: float = SIGNED_AT, keys: dict[str, str] = KEYS,
          region: str = SUITE["region"]) -> str:
    return check_signature(request, keys, region, now, service=SUITE["service"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_botocore_reproduces_the_published_signature(name: str) -> None:
    case = CASES[name]
    request = SignedRequest(case["method"], case["url"], [tuple(h) for h in case["headers"]], case["body"].encode())
    names = [h[0] for h in case["headers"]]

    computed = signature(request, names, SUITE["amz_date"], SECRET, SUITE["region"], SUITE["service"])

    assert case["authorization"].endswith(f"Signature={computed}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_published_request_passes_the_check(name: str) -> None:
    assert check(signed(CASES[name])) == "AKIDEXAMPLE"


def test_a_body_changed_after_signing_is_refused() -> None:
    request = replace(signed(CASES["post-x-www-form-urlencoded"]), body=b"Param1=value2")

    with pytest.raises(Refused) as refused:
        check(request)

    assert (refused.value.status, refused.value.kind) == (403, "SignatureDoesNotMatch")
    assert "does not match the signature you provided" in refused.value.message


def test_a_signed_header_changed_after_signing_is_refused() -> None:
    request = signed(CASES["post-x-www-form-urlencoded"])
    tampered = replace(request, headers=[("content-type", "application/json") if name == "content-type" else (name, v)
                                         for name, v in request.headers])

    with pytest.raises(Refused, match="does not match"):
        check(tampered)


def test_a_wrong_secret_is_refused() -> None:
    with pytest.raises(Refused, match="does not match"):
        check(signed(CASES["get-vanilla"]), keys={"AKIDEXAMPLE": "not-the-secret"})


def test_an_unknown_access_key_is_refused_as_an_invalid_token() -> None:
    with pytest.raises(Refused) as refused:
        check(signed(CASES["get-vanilla"]), keys={"AKIDOTHER": SECRET})

    assert refused.value.kind == "InvalidClientTokenId"


def test_a_signature_for_another_region_is_refused() -> None:
    with pytest.raises(Refused, match="scoped to a valid region"):
        check(signed(CASES["get-vanilla"]), region="ap-northeast-1")


def test_a_request_signed_more_than_fifteen_minutes_ago_is_refused() -> None:
    with pytest.raises(Refused, match="Signature expired: 20150830T123600Z"):
        check(signed(CASES["get-vanilla"]), now=SIGNED_AT + 16 * 60)
    assert check(signed(CASES["get-vanilla"]), now=SIGNED_AT + 14 * 60) == "AKIDEXAMPLE"


def test_a_request_without_authorization_is_refused() -> None:
    request = SignedRequest("GET", "https://example.amazonaws.com/", [("host", "example.amazonaws.com")], b"")

    with pytest.raises(Refused) as refused:
        check(request)

    assert refused.value.kind == "MissingAuthenticationToken"
