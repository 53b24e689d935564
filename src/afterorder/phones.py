"""Phone numbers as afterorder keeps them: E.164 (``+819012345678``), the form SMS providers and
LINE's notification messages take.

A number in international form (``+81 90-1234-5678``) is read as it is.  A national number
(``090-1234-5678``, ``138 0013 8000``) is read in the customer's country when it is known, else as
Japanese, then Chinese (the stores afterorder is for; their mobile numbers cannot be mistaken for
each other: Japan's begin with 0, China's with 1).  Anything else is refused with a message that
says how to write it.  Platform adapters use :func:`lenient`: a store's bad phone field must not
cost it the order, so the number is dropped instead.
"""

from __future__ import annotations

import phonenumbers

FALLBACK_REGIONS = ("JP", "CN")


class PhoneError(ValueError):
    pass


def normalize(value: str, country: str | None = None) -> str:
    """``value`` in E.164, or ``PhoneError`` saying why it is not a phone number."""
    text = value.strip()
    if not text:
        raise PhoneError("phone is empty")
    if len(text) > 32:
        raise PhoneError("phone is too long to be a phone number")
    regions = [country.upper()] if country else list(FALLBACK_REGIONS)
    if text.startswith(("+", "00")) and not text.startswith("+") and len(text) > 2:
        text = "+" + text[2:]
    for region in ([None] if text.startswith("+") else regions):
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    where = f"in {country.upper()}" if country else "in Japan or China"
    raise PhoneError(f"{value.strip()[:32]!r} is not a valid phone number {where}: write it in international "
                     "form (+81 90-1234-5678), or give the customer's country")


def lenient(value: str | None, country: str | None = None) -> str | None:
    """E.164, or None when ``value`` is missing or not a phone number (a platform's free-text field)."""
    if not value:
        return None
    try:
        return normalize(value, country)
    except PhoneError:
        return None
