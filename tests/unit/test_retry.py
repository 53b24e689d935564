"""RetryPolicy turns a send result into a retry decision."""

from __future__ import annotations

import pytest

from afterorder.channels import RetryDecision, RetryPolicy, SendOutcome, SendResult

SENT = SendResult(SendOutcome.SENT, 250, "OK")
TEMPORARY = SendResult(SendOutcome.TEMPORARY, 451, "4.3.0 try later")
PERMANENT = SendResult(SendOutcome.PERMANENT, 550, "5.1.1 no such user")


def test_temporary_failures_back_off_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(base_seconds=30, factor=2, max_delay_seconds=600, max_attempts=10)

    delays = [policy.decide(attempt, TEMPORARY).delay_seconds for attempt in range(1, 10)]

    assert delays == [30, 60, 120, 240, 480, 600, 600, 600, 600]


def test_no_retry_once_max_attempts_reached() -> None:
    policy = RetryPolicy(max_attempts=3)

    assert policy.decide(2, TEMPORARY).retry
    assert policy.decide(3, TEMPORARY) == RetryDecision(retry=False, delay_seconds=0.0)
    assert not policy.decide(4, TEMPORARY).retry


@pytest.mark.parametrize("result", [SENT, PERMANENT])
def test_sent_and_permanent_are_never_retried(result: SendResult) -> None:
    assert RetryPolicy().decide(1, result) == RetryDecision(retry=False, delay_seconds=0.0)


def test_defaults_first_retry_after_thirty_seconds_and_twelve_attempts_in_all() -> None:
    policy = RetryPolicy()

    decisions = [policy.decide(attempt, TEMPORARY) for attempt in range(1, 13)]

    assert decisions[0] == RetryDecision(retry=True, delay_seconds=30.0)
    assert [d.retry for d in decisions] == [True] * 11 + [False]
    assert max(d.delay_seconds for d in decisions) == 3600.0


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    policy = RetryPolicy(max_attempts=100_000)

    assert policy.decide(5_000, TEMPORARY) == RetryDecision(retry=True, delay_seconds=3600.0)


def test_decisions_are_deterministic() -> None:
    policy = RetryPolicy()

    assert [policy.decide(4, TEMPORARY) for _ in range(3)] == [RetryDecision(True, 240.0)] * 3


@pytest.mark.parametrize(
    "kwargs",
    [{"base_seconds": -1}, {"factor": 0.5}, {"max_attempts": 0}, {"max_delay_seconds": -5}],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_attempts_are_one_based() -> None:
    with pytest.raises(ValueError):
        RetryPolicy().decide(0, TEMPORARY)
