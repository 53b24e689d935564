"""How many SMS segments a text takes, and in which encoding (3GPP TS 23.038, the GSM 7-bit alphabet).

A text goes as **GSM-7** when every character is in the default alphabet or its extension table; an
extension character (``^ { } \\ [ ~ ] | €`` and form feed) takes two septets, the escape and itself.
Any other character (Japanese, Chinese, most accented letters, emoji) sends the whole text as
**UCS-2**, counted in UTF-16 code units: a character beyond the Basic Multilingual Plane (most emoji)
takes two.

One segment holds 160 septets or 70 code units.  A longer text is sent as parts of 153 septets or 67
code units (each part gives 6 bytes to the concatenation header), and a two-unit character is never
split across two parts (an escape sequence or a surrogate pair stays whole, as carriers and Twilio's
segment calculator keep it), so a part may end one unit short.  An empty text is no segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Encoding = Literal["GSM-7", "UCS-2"]

# The default alphabet, in code order 0x00–0x7F (0x1B, the escape to the extension table, left out).
GSM_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION: Final = frozenset("\f^{}\\[~]|€")
SINGLE: Final[dict[Encoding, int]] = {"GSM-7": 160, "UCS-2": 70}
PART: Final[dict[Encoding, int]] = {"GSM-7": 153, "UCS-2": 67}


@dataclass(frozen=True)
class SmsLength:
    encoding: Encoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def encoding_of(text: str) -> Encoding:
    return "GSM-7" if all(c in GSM_BASIC or c in GSM_EXTENSION for c in text) else "UCS-2"


def _units(char: str, encoding: Encoding) -> int:
    if encoding == "GSM-7":
        return 2 if char in GSM_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def _parts(sizes: list[int], capacity: int) -> int:
    """Parts of ``capacity`` units filled in order, a character never split between two."""
    parts, used = 1, 0
    for size in sizes:
        if used + size > capacity:
            parts, used = parts + 1, 0
        used += size
    return parts


def measure(text: str) -> SmsLength:
    """The encoding, length in units and number of segments of ``text`` as one SMS."""
    encoding = encoding_of(text)
    sizes = [_units(c, encoding) for c in text]
    units = sum(sizes)
    if units == 0:
        return SmsLength(encoding, 0, 0)
    segments = 1 if units <= SINGLE[encoding] else _parts(sizes, PART[encoding])
    return SmsLength(encoding, units, segments)
