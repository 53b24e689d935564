"""Postmark ``POST /email/batch`` with ``X-Postmark-Server-Token``; sends close together share a request.

Postmark takes no raw MIME: each message is read back into its parts (``mimeparts``) and sent as
``From``, ``To``, ``Subject``, ``TextBody``, ``HtmlBody``, ``ReplyTo``, ``Headers`` (Message-ID,
List-Unsubscribe, List-Unsubscribe-Post, our ``X-`` headers), ``Tag`` (the message's category) and
``MessageStream`` (when the store names one; Postmark's default is ``outbound``).

**Coalescing.**  A send waits up to ``window`` seconds (5 ms) for others; all that arrived by then
go in one batch request (at most 500 messages and 50 MB, Postmark's limits; a full batch goes at
once).  One message alone is a batch of one.  Postmark answers 200 with one entry per message, in
order, and each sender gets the result of its own entry.  An answer for the whole request (401, 422,
429, 5xx, a timeout) is every message's result — except a refusal (PERMANENT) of a batch of more
than one, after which each message is sent again alone, so only the bad one is refused.

Per-message ``ErrorCode`` (Postmark's API reference, "API error codes"):

===== ============================== ===========================================================
0     OK                             SENT; ``MessageID`` kept as the provider's id
10    bad or missing server token    TEMPORARY: the operator's to fix; the message waits
100   maintenance                    TEMPORARY
300   invalid email request          PERMANENT
400,  no / unconfirmed Sender        TEMPORARY: the store's From address must be confirmed in
401   Signature                      Postmark; the operator's to fix, not the message's
402,  invalid / incompatible JSON,   PERMANENT
403,  JSON required, forbidden
409,  attachment type
411
405   not allowed to send (out of    TEMPORARY, busy (quota): nothing is lost while the operator
      credits)                       buys more; tried again after an hour
406   inactive recipient (hard       PERMANENT
      bounce, spam complaint,
      suppressed)
410   too many batch messages        TEMPORARY (cannot happen: batches stop at 500)
412,  account pending / may not      TEMPORARY: the operator's to fix
413   send
429   rate limit exceeded            TEMPORARY, busy (throttled); Postmark sends no Retry-After
other (not in the reference)         TEMPORARY: an unknown code is not taken as the message's fault
===== ============================== ===========================================================
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from email.utils import formataddr
from typing import Any, ClassVar

import httpx
from pydantic import Field

from afterorder.channels.base import Busy, ChannelKind, OutgoingMessage, SendOutcome, SendResult
from afterorder.channels.http import (
    DEFAULT_TIMEOUT,
    HttpChannel,
    HttpRequest,
    body_json,
    by_status,
    retry_after,
    short,
)
from afterorder.channels.mimeparts import Mailbox, read_email
from afterorder.channels.options import Provider, ProviderOptions

PATH = "/email/batch"
DEFAULT_API_BASE = "https://api.postmarkapp.com"
MAX_BATCH = 500  # messages per request
MAX_BATCH_BYTES = 50 * 1024 * 1024  # payload per request
WINDOW = 0.005  # seconds a send waits for others to share its request
QUOTA_DELAY = 3600.0


@dataclass(frozen=True)
class Meaning:
    outcome: SendOutcome
    busy: Busy | None = None
    note: str = ""


_OPERATOR = "the operator's to fix; the message waits"
CODES: dict[int, Meaning] = {
    10: Meaning(SendOutcome.TEMPORARY, note=f"the server token was refused: {_OPERATOR}"),
    100: Meaning(SendOutcome.TEMPORARY, note="Postmark is in maintenance"),
    300: Meaning(SendOutcome.PERMANENT),
    400: Meaning(SendOutcome.TEMPORARY, note=f"the From address has no Sender Signature: {_OPERATOR}"),
    401: Meaning(SendOutcome.TEMPORARY, note=f"the Sender Signature is not confirmed: {_OPERATOR}"),
    402: Meaning(SendOutcome.PERMANENT),
    403: Meaning(SendOutcome.PERMANENT),
    405: Meaning(SendOutcome.TEMPORARY, Busy.QUOTA, "the account is out of credits: the message waits"),
    406: Meaning(SendOutcome.PERMANENT),
    409: Meaning(SendOutcome.PERMANENT),
    410: Meaning(SendOutcome.TEMPORARY),
    411: Meaning(SendOutcome.PERMANENT),
    412: Meaning(SendOutcome.TEMPORARY, note=f"the account is pending: {_OPERATOR}"),
    413: Meaning(SendOutcome.TEMPORARY, note=f"the account may not send: {_OPERATOR}"),
    429: Meaning(SendOutcome.TEMPORARY, Busy.THROTTLED),
}
UNKNOWN_CODE = Meaning(SendOutcome.TEMPORARY, note="an ErrorCode not in Postmark's reference")


@dataclass(frozen=True)
class _Waiting:
    entry: bytes  # the message's JSON object
    result: asyncio.Future[SendResult]


class PostmarkChannel(HttpChannel):
    provider = "postmark"

    def __init__(self, server_token: str, *, message_stream: str | None = None, api_base: str | None = None,
                 client: httpx.AsyncClient | None = None, timeout: float = DEFAULT_TIMEOUT,
                 window: float = WINDOW, max_batch: int = MAX_BATCH) -> None:
        super().__init__(api_base or DEFAULT_API_BASE, client=client, timeout=timeout)
        if not 1 <= max_batch <= MAX_BATCH:
            raise ValueError(f"max_batch must be 1 to {MAX_BATCH}, got {max_batch}")
        self.message_stream = message_stream
        self.window = window
        self.max_batch = max_batch
        self._headers = {"X-Postmark-Server-Token": server_token, "Content-Type": "application/json",
                         "Accept": "application/json"}
        self._waiting: list[_Waiting] = []
        self._waiting_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._posting: set[asyncio.Task[None]] = set()

    def entry(self, message: OutgoingMessage) -> bytes:
        """The message's object in the batch array (Postmark's Email fields), as JSON bytes."""
        if not message.recipients:
            raise ValueError("the message has no recipient")
        parts = read_email(message.data)
        if not (parts.text or parts.html):
            raise ValueError("the message's text and HTML bodies are both empty")
        fields: dict[str, Any] = {"From": _address(parts.sender), "To": ", ".join(message.recipients),
                                  "Subject": parts.subject}
        if parts.text:
            fields["TextBody"] = parts.text
        if parts.html:
            fields["HtmlBody"] = parts.html
        if parts.reply_to:
            fields["ReplyTo"] = ", ".join(_address(m) for m in parts.reply_to)
        if parts.headers:
            fields["Headers"] = [{"Name": name, "Value": value} for name, value in parts.headers]
        if message.category:
            fields["Tag"] = message.category[:1000]
        if self.message_stream:
            fields["MessageStream"] = self.message_stream
        encoded = json.dumps(fields, ensure_ascii=False).encode()
        if len(encoded) + 2 > MAX_BATCH_BYTES:
            raise ValueError(f"the message is {len(encoded)} bytes as JSON; Postmark takes at most 50 MB a request")
        return encoded

    def request(self, message: OutgoingMessage) -> HttpRequest:
        """A batch of one (``send`` gathers messages into larger batches)."""
        return self._batch_request([self.entry(message)])

    def _batch_request(self, entries: list[bytes]) -> HttpRequest:
        return HttpRequest("POST", PATH, self._headers, b"[" + b",".join(entries) + b"]")

    async def send(self, message: OutgoingMessage) -> SendResult:
        try:
            entry = self.entry(message)
        except ValueError as exc:
            return SendResult(SendOutcome.PERMANENT, None, f"postmark: {exc}")
        waiting = _Waiting(entry, asyncio.get_running_loop().create_future())
        self._enqueue(waiting)
        return await waiting.result

    def _enqueue(self, waiting: _Waiting) -> None:
        if self._waiting and self._waiting_bytes + len(waiting.entry) + len(self._waiting) + 2 > MAX_BATCH_BYTES:
            self._flush()
        self._waiting.append(waiting)
        self._waiting_bytes += len(waiting.entry)
        if len(self._waiting) >= self.max_batch:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.window, self._flush)

    def _flush(self) -> None:
        """Post what is waiting as one batch (senders that gave up meanwhile are left out)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch = [w for w in self._waiting if not w.result.done()]
        self._waiting, self._waiting_bytes = [], 0
        if batch:
            task = asyncio.create_task(self._post(batch))
            self._posting.add(task)
            task.add_done_callback(self._posting.discard)

    async def _post(self, batch: list[_Waiting]) -> None:
        try:
            results = await self._results([w.entry for w in batch])
        except asyncio.CancelledError:
            _settle(batch, _interrupted(len(batch), "cancelled"))
            raise
        except Exception as exc:  # never leave a sender waiting; the request may have gone out
            results = _interrupted(len(batch), f"{type(exc).__name__}: {exc}")
        _settle(batch, results)

    async def _results(self, entries: list[bytes]) -> list[SendResult]:
        answer = await self.exchange(self._batch_request(entries))
        if isinstance(answer, SendResult):
            return [answer] * len(entries)
        verdict = by_status(answer.status_code, answer.headers, short(answer))
        if verdict.outcome is SendOutcome.SENT:
            return _each(answer, len(entries))
        whole = _whole(answer, verdict)
        if whole.outcome is SendOutcome.PERMANENT and len(entries) > 1:
            alone = await asyncio.gather(*(self._results([entry]) for entry in entries))
            return [results[0] for results in alone]
        return [whole] * len(entries)

    async def close(self) -> None:
        self._flush()
        if self._posting:
            await asyncio.gather(*self._posting, return_exceptions=True)
        await super().close()


def _address(mailbox: Mailbox) -> str:
    return formataddr((mailbox.name, mailbox.address)) if mailbox.name else mailbox.address


def _settle(batch: list[_Waiting], results: list[SendResult]) -> None:
    for waiting, result in zip(batch, results, strict=True):
        if not waiting.result.done():
            waiting.result.set_result(result)


def _interrupted(count: int, why: str) -> list[SendResult]:
    return [SendResult(SendOutcome.TEMPORARY, None, f"postmark: the batch request was interrupted ({why})",
                       unknown=True)] * count


def _each(answer: httpx.Response, count: int) -> list[SendResult]:
    """Each message's result from its entry of the 200 answer's array."""
    items = body_json(answer)
    if not isinstance(items, list) or len(items) != count:
        return [SendResult(SendOutcome.TEMPORARY, answer.status_code, "postmark: answered 200 without one result "
                           f"per message: {short(answer, 200)}", unknown=True)] * count
    return [_entry_result(item, answer) for item in items]


def _entry_result(item: object, answer: httpx.Response) -> SendResult:
    fields = item if isinstance(item, dict) else {}
    code, text = fields.get("ErrorCode"), str(fields.get("Message") or "")
    if code == 0:
        message_id = fields.get("MessageID")
        provider_id = message_id if isinstance(message_id, str) and message_id else None
        return SendResult(SendOutcome.SENT, answer.status_code, f"postmark: accepted {provider_id}",
                          provider_id=provider_id)
    return _meant(code if isinstance(code, int) else None, text, answer)


def _whole(answer: httpx.Response, verdict: SendResult) -> SendResult:
    """The result of an answer for the whole request (not 200)."""
    body = body_json(answer)
    code = body.get("ErrorCode") if isinstance(body, dict) else None
    if verdict.unknown or verdict.busy is not None or not isinstance(code, int):
        if answer.status_code == 401:
            return _meant(10, short(answer), answer)
        return verdict
    return _meant(code, str(body.get("Message") or ""), answer)


def _meant(code: int | None, text: str, answer: httpx.Response) -> SendResult:
    meaning = CODES.get(code, UNKNOWN_CODE) if code is not None else UNKNOWN_CODE
    detail = f"postmark: ErrorCode {code}: {text}" + (f" ({meaning.note})" if meaning.note else "")
    delay = retry_after(answer.headers)
    if meaning.busy is Busy.QUOTA and delay is None:
        delay = QUOTA_DELAY
    return SendResult(meaning.outcome, answer.status_code, detail, delay if meaning.busy else None, meaning.busy)


class PostmarkOptions(ProviderOptions):
    """``server_token`` (the Postmark server's API token) and ``message_stream`` (default ``outbound``)."""

    SECRETS: ClassVar[frozenset[str]] = frozenset({"server_token"})
    server_token: str = Field(min_length=1)
    message_stream: str | None = None


def _build(options: PostmarkOptions, client: httpx.AsyncClient | None) -> PostmarkChannel:
    return PostmarkChannel(options.server_token, message_stream=options.message_stream, api_base=options.api_base,
                           client=client)


# default_rate None: Postmark publishes no API rate limit (it documents a 429 and batches of 500).
PROVIDER = Provider("postmark", ChannelKind.EMAIL, PostmarkOptions, _build, DEFAULT_API_BASE, default_rate=None)
