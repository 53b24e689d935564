"""The delivery note's form read into a note (or refused naming the field), the form's nonce bound to
one page's token and store, when the note stops being editable, and the event a note becomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from afterorder.domain import EventType
from afterorder.order_page.delivery_note import (
    MAX_TEXT,
    DeliveryNote,
    NoteError,
    closed_reason,
    form_nonce,
    nonce_ok,
    note_event,
    parse_note,
)
from afterorder.signing import Signer, new_signing_key


def test_a_full_form_is_a_note_and_the_window_defaults_to_any_time() -> None:
    assert parse_note({"choice": ["box"], "window": ["19-21"], "text": [" 3 番\r\nです "]}) == DeliveryNote(
        "box", "19-21", "3 番\nです")
    assert parse_note({"choice": ["door"]}) == DeliveryNote("door", "any", "")


@pytest.mark.parametrize(("fields", "field"), [
    ({}, "choice"),
    ({"choice": ["roof"]}, "choice"),
    ({"choice": ["door", "box"]}, "choice"),
    ({"choice": ["door"], "window": ["03-05"]}, "window"),
    ({"choice": ["door"], "text": ["x" * (MAX_TEXT + 1)]}, "text"),
    ({"choice": ["door"], "text": ["ring\x07twice"]}, "text"),
])
def test_a_bad_field_is_refused_by_name(fields: dict[str, list[str]], field: str) -> None:
    with pytest.raises(NoteError) as refused:
        parse_note(fields)
    assert refused.value.field == field and str(refused.value).startswith(f"{field}: ")


def test_the_nonce_belongs_to_one_page_of_one_store() -> None:
    signer = Signer(new_signing_key())
    nonce = form_nonce(signer, "token-a")
    assert nonce_ok(signer, "token-a", nonce)
    assert not nonce_ok(signer, "token-b", nonce)
    assert not nonce_ok(Signer(new_signing_key()), "token-a", nonce)
    assert not nonce_ok(signer, "token-a", "")


def test_the_note_closes_once_the_parcel_is_on_its_way() -> None:
    assert closed_reason("placed", False) is None and closed_reason("shipped", False) is None
    assert closed_reason("shipped", True) == "out_for_delivery"
    assert [closed_reason(s, False) for s in ("delivered", "cancelled", "refunded")] == [
        "delivered", "cancelled", "refunded"]


def test_the_same_note_makes_the_same_event_id_and_a_changed_one_another() -> None:
    now = datetime.now(UTC) - timedelta(minutes=1)
    note = DeliveryNote("box", "am", "")
    first = note_event(7, "A-1", note, 1, now)
    assert first.type is EventType.ORDER_DELIVERY_NOTE and first.order is not None and first.order.id == "A-1"
    assert first.properties == {"choice": "box", "window": "am", "text": "", "revision": 1, "source": "order-page"}
    assert note_event(7, "A-1", note, 1, now + timedelta(seconds=5)).id == first.id
    assert note_event(7, "A-1", DeliveryNote("door", "am", ""), 1, now).id != first.id
    assert note_event(7, "A-1", note, 2, now).id != first.id
