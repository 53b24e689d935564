"""What an A/B test is: variants with weights, the metric it is judged on, and when to call a winner.

Variant ``A`` is the send step as the flow writes it.  Every other variant may replace the subject
(per locale, a one-line template with the message's data) and/or the whole message (per locale, a
message file with blocks subject / html / text, like a dashboard template edit).  Weights are whole
per cents and add up to 100.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

Metric = Literal["open", "click", "order"]
METRICS: Final[tuple[Metric, ...]] = ("open", "click", "order")
CONFIDENCES: Final = (0.90, 0.95, 0.99)
MIN_SAMPLE_FLOOR: Final = 10
MAX_VARIANTS: Final = 4
KEYS: Final = "ABCD"
MAX_SUBJECT: Final = 300


class AbTestError(ValueError):
    """A test that cannot run; the message names the field."""


@dataclass(frozen=True)
class Variant:
    key: str
    weight: int
    subject: Mapping[str, str] = field(default_factory=dict)  # locale → subject template
    source: Mapping[str, str] = field(default_factory=dict)  # locale → whole message file

    @property
    def changes(self) -> bool:
        return bool(self.subject or self.source)

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"key": self.key, "weight": self.weight}
        if self.subject:
            found["subject"] = dict(self.subject)
        if self.source:
            found["source"] = dict(self.source)
        return found

    @staticmethod
    def from_json(raw: Mapping[str, Any]) -> Variant:
        return Variant(str(raw["key"]), int(raw["weight"]), dict(raw.get("subject") or {}),
                       dict(raw.get("source") or {}))


def check_variants(variants: tuple[Variant, ...]) -> None:
    """Raise AbTestError unless the variants make a test: A first and unchanged, 2–4 of them,
    weights 1–99 adding up to 100, every other variant changing something."""
    if not 2 <= len(variants) <= MAX_VARIANTS:
        raise AbTestError(f"variants: a test has 2 to {MAX_VARIANTS} variants")
    if tuple(v.key for v in variants) != tuple(KEYS[: len(variants)]):
        raise AbTestError("variants: name them A, B, C, D in order")
    if variants[0].changes:
        raise AbTestError("variants[A]: A is the message as the flow sends it; put changes in B")
    for v in variants:
        if not 1 <= v.weight <= 99:
            raise AbTestError(f"split: variant {v.key} needs a share from 1 to 99 %")
        for locale, subject in v.subject.items():
            if not subject.strip() or len(subject) > MAX_SUBJECT or "\n" in subject.strip():
                raise AbTestError(f"subject_{locale}: one line of at most {MAX_SUBJECT} characters")
    if sum(v.weight for v in variants) != 100:
        raise AbTestError("split: the shares must add up to 100 %")
    for v in variants[1:]:
        if not v.changes:
            raise AbTestError(f"variant {v.key}: change the subject or the message, or there is nothing to test")


@dataclass(frozen=True)
class AbTest:
    id: int
    store_id: int
    name: str
    flow_id: str
    step: int
    template: str
    variants: tuple[Variant, ...]
    metric: Metric
    confidence: float
    min_sample: int
    status: str  # running | decided | stopped
    winner: str | None

    def variant(self, key: str) -> Variant:
        return next(v for v in self.variants if v.key == key)

    def message_name(self, key: str) -> str:
        """The template a variant is rendered from: the step's own, or the test's copy of it."""
        return self.template if not self.variant(key).source else variant_template(self.id, key, self.template)


def variant_template(test_id: int, key: str, template: str) -> str:
    """The name a variant's own message goes by in the store's renderer."""
    return f"{template}.ab{test_id}{key}"
