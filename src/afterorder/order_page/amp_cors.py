"""Who may read an order's status from an AMP email: the AMP for Email CORS check.

An AMP mail's ``amp-list`` (``afterorder.order_page.amp_mail``) loads ``GET /o/{store}/{token}/amp.json``
through the mail client, which says whose mail is asking.  This follows "CORS in AMP for Email"
(https://amp.dev/documentation/guides-and-tutorials/learn/cors-in-email), which asks servers to
support both of its versions:

* **Version 2**: the request carries ``AMP-Email-Sender: <the mail's From address>``; the answer
  must carry ``AMP-Email-Allow-Sender`` with the same address (or ``*``, which we never send).
* **Version 1** (deprecated, still sent by some clients): the request carries ``Origin`` (the mail
  client's origin) and the query parameter ``__amp_source_origin`` (the sender's address); the
  answer must carry ``Access-Control-Allow-Origin: <Origin>``,
  ``AMP-Access-Control-Allow-Source-Origin: <__amp_source_origin>`` and
  ``Access-Control-Expose-Headers: AMP-Access-Control-Allow-Source-Origin``.

The sender must be one of the store's sending addresses (``stores.email_from``: the From of every
mail it sends), compared without regard to case.  ``grant`` gives the answer's headers, or raises
:class:`AmpRefused` naming the header or parameter that is missing or wrong: the endpoint then
answers 403 with no order data.  Version 2 wins when a request carries both.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

SENDER_HEADER: Final = "AMP-Email-Sender"
SOURCE_ORIGIN: Final = "__amp_source_origin"
_ORIGIN: Final = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d{1,5})?")


class AmpRefused(ValueError):
    """The request may not read the status; ``field`` is the header or query parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AmpRequest:
    """What an AMP request says about its mail: version 2's sender, version 1's source origin and Origin."""

    sender: str | None
    source_origin: str | None
    origin: str | None

    @classmethod
    def read(cls, headers: Mapping[str, str], query: Mapping[str, str]) -> AmpRequest:
        """From the request's headers (case-insensitive mapping) and query parameters."""
        return cls(headers.get(SENDER_HEADER), query.get(SOURCE_ORIGIN), headers.get("Origin"))


def _known(address: str, senders: Collection[str]) -> bool:
    wanted = address.strip().lower()
    return bool(wanted) and any(wanted == s.strip().lower() for s in senders if s)


def grant(request: AmpRequest, senders: Collection[str]) -> dict[str, str]:
    """The headers that let the mail read the answer; :class:`AmpRefused` when it may not."""
    if request.sender is not None:
        if not _known(request.sender, senders):
            raise AmpRefused(SENDER_HEADER, f"{SENDER_HEADER} is not this store's sending address")
        return {"AMP-Email-Allow-Sender": request.sender.strip()}
    if request.source_origin is not None:
        if request.origin is None or not _ORIGIN.fullmatch(request.origin.strip()):
            raise AmpRefused("Origin", f"an AMP request with {SOURCE_ORIGIN} needs the mail client's Origin")
        if not _known(request.source_origin, senders):
            raise AmpRefused(SOURCE_ORIGIN, f"{SOURCE_ORIGIN} is not this store's sending address")
        return {"Access-Control-Allow-Origin": request.origin.strip(),
                "AMP-Access-Control-Allow-Source-Origin": request.source_origin.strip(),
                "Access-Control-Expose-Headers": "AMP-Access-Control-Allow-Source-Origin"}
    raise AmpRefused(SENDER_HEADER, f"an AMP for Email request: {SENDER_HEADER} (or {SOURCE_ORIGIN} with Origin) "
                                    "is missing")
