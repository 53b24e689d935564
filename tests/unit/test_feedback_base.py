"""The shared readers of what providers report back: a delivery report, an optional id."""

from __future__ import annotations

from datetime import UTC, datetime

from afterorder.feedback.base import DeliveryStatus, StatusReport, delivered, optional_text


def test_a_delivery_report_keeps_the_providers_words_to_255_characters() -> None:
    now = datetime.now(UTC)

    report = delivered("ses", now, "250 2.0.0 OK " + "x" * 300, provider_message_id="0100018c", message_id="<a@b>")

    assert report == StatusReport("ses", DeliveryStatus.DELIVERED, now, "0100018c", "<a@b>", report.detail)
    assert report.detail.startswith("250 2.0.0 OK") and len(report.detail) == 255
    assert delivered("mailgun", now, None).detail == ""


def test_an_optional_id_is_trimmed_text_or_none() -> None:
    assert optional_text("  0100018c  ") == "0100018c"
    assert optional_text("   ") is None
    assert optional_text(12) is None
