"""Rate limits on what anyone can reach: the public pages, the webhooks and the API.

Every request to one of these endpoints takes a token from a bucket; a request that finds its bucket
empty is not handled and is answered **429** with ``Retry-After`` (whole seconds until a token is
back): an HTML page on the customer-facing pages, the usual JSON error elsewhere.

* **public** — ``/u/`` (the unsubscribe page), ``/preferences/``, ``/confirm/``, ``/s/`` (surveys),
  ``/public/{store}/back-in-stock``, ``/line/link/``, ``/o/`` (the order page; the posts of its
  delivery note form count in a bucket of their own) and ``/w/{store}/…`` (the thank-you block's
  data, and its POSTs in a bucket of their own; the script ``/w/{store}.js`` is not limited: it is
  the same cached file for everyone): a bucket per endpoint, store and client address; default
  **30 a minute, burst 20**.
* **one_click** — ``POST /u/…``, the RFC 8058 one-click unsubscribe: a mailbox provider's servers
  make it for every one of their users who presses "Unsubscribe", so many customers of one store
  arrive from a few addresses, and refusing them would keep mail flowing to people who asked for it
  to stop.  A bucket per store and client address; default **10 a second, burst 100** (the tokens
  are signed, so probing the POST finds nothing either way).  ``GET /o/{store}/{token}/amp.json``,
  the live status of AMP emails, counts here too: mail providers fetch it through their proxies
  for every reader who opens one.
* **webhooks** — ``/webhooks/{platform}/{store}`` and the providers' feedback
  (``/webhooks/esp|line|twilio|aliyun_sms/…``): a bucket per endpoint, store and client address;
  default **5,000 a second, burst 10,000**.
* **api** — ``/api/v1/…``: a bucket per API key (the ``Authorization`` bearer token); default
  **10,000 a second, burst 20,000**.  A request without a bearer token is not counted (it is
  answered 401 without a look at the database).

The store is part of the key, so one store's flood never empties another store's buckets: its
customers are still served.  The webhook and API defaults are far above what ``bench/`` drives (a
few thousand requests a second on two cores), so they only stop a runaway sender; the public pages,
which a customer opens a handful of times, are limited tightly.  Other paths (the dashboard, which
has its own login throttle, tracking pixels and clicks, which mail proxies fetch from a few shared
addresses, ``/healthz``) are not limited here.

Change a class with ``serve --rate-limit CLASS=N/s`` or ``N/min`` (``,burst=M``), or in
``afterorder.toml``::

    [rate_limits]
    public = {per_minute = 60, burst = 30}
    api = {per_second = 20000, burst = 40000}

**The limits are per process**: ``serve --workers N`` still answers HTTP in one process, but several
``serve`` processes behind a load balancer each keep their own buckets.  Buckets live in memory,
at most ``MAX_KEYS`` (65,536) of them, each key at most 160 characters (a longer one is kept as its
digest): about 20 MB at most.  The bucket used least recently is dropped first (a dropped bucket
starts full again), so no stream of new addresses, stores or keys grows memory without bound.

**Client address**: the socket peer.  ``X-Forwarded-For`` is believed only when the peer is one of
the configured trusted proxies (``serve --trusted-proxy ADDRESS|CIDR``, ``trusted_proxies`` in the
file): then the client is the right-most address in it that is not itself a trusted proxy, and the
request carries that address from here on (what consent records store as the source).  IPv6 clients
are counted by their /64, what one subscriber line is given.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from afterorder.web.errors import error

LimitClass = Literal["public", "one_click", "webhooks", "api"]
LIMIT_CLASSES: Final[tuple[LimitClass, ...]] = ("public", "one_click", "webhooks", "api")
MAX_KEYS: Final = 65_536


@dataclass(frozen=True)
class Limit:
    """A token bucket: ``per_second`` tokens come back each second, up to ``burst`` held at once."""

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if not (self.per_second > 0 and self.burst >= 1):
            raise ValueError("a limit needs a rate above 0 and a burst of at least 1")


DEFAULT_LIMITS: Final[dict[LimitClass, Limit]] = {
    "public": Limit(per_second=30 / 60, burst=20),
    "one_click": Limit(per_second=10, burst=100),
    "webhooks": Limit(per_second=5_000, burst=10_000),
    "api": Limit(per_second=10_000, burst=20_000),
}

_SPEC = re.compile(r"^\s*(?P<cls>[a-z_]+)\s*=\s*(?P<n>\d+(?:\.\d+)?)\s*/\s*(?P<unit>s|min)\s*"
                   r"(?:,\s*burst\s*=\s*(?P<burst>\d+)\s*)?$")


def parse_limit(spec: str) -> tuple[LimitClass, Limit]:
    """``public=30/min,burst=20`` or ``api=10000/s`` (burst, when not given: the class's default burst
    or two seconds' worth, whichever is more).  ``ValueError`` naming the problem."""
    found = _SPEC.match(spec)
    if found is None:
        raise ValueError(f"{spec!r}: write CLASS=N/s or CLASS=N/min, optionally ',burst=M'")
    name = found["cls"]
    if name not in LIMIT_CLASSES:
        raise ValueError(f"{spec!r}: the classes are {', '.join(LIMIT_CLASSES)}")
    per_second = float(found["n"]) / (60 if found["unit"] == "min" else 1)
    burst = int(found["burst"]) if found["burst"] else max(DEFAULT_LIMITS[name].burst, math.ceil(per_second * 2))
    return name, Limit(per_second, burst)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class RateLimitSettings:
    limits: dict[LimitClass, Limit] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    trusted_proxies: tuple[Network, ...] = ()
    max_keys: int = MAX_KEYS

    @classmethod
    def build(cls, limits: Iterable[str] = (), trusted_proxies: Iterable[str] = (),
              max_keys: int = MAX_KEYS) -> RateLimitSettings:
        """From the command's ``--rate-limit`` and ``--trusted-proxy`` values; ``ValueError`` on a bad one."""
        chosen = dict(DEFAULT_LIMITS)
        for spec in limits:
            name, limit = parse_limit(spec)
            chosen[name] = limit
        proxies: list[Network] = []
        for proxy in trusted_proxies:
            try:
                proxies.append(ipaddress.ip_network(proxy.strip(), strict=False))
            except ValueError:
                raise ValueError(f"trusted proxy {proxy!r}: expected an IP address or a network such as 10.0.0.0/8") \
                    from None
        return cls(chosen, tuple(proxies), max_keys)


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens = tokens
        self.updated = updated


class TokenBuckets:
    """Token buckets by key, at most ``max_keys`` of them (least recently used dropped first).
    ``clock``: seconds, only ever compared (``time.monotonic`` in service, a fake in tests)."""

    def __init__(self, clock: Callable[[], float], max_keys: int = MAX_KEYS) -> None:
        self._clock = clock
        self._max = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, limit: Limit) -> float:
        """Take a token: 0.0 when there was one, else the seconds until there is (nothing taken)."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(limit.burst), now)
            if len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(float(limit.burst), bucket.tokens + (now - bucket.updated) * limit.per_second)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / limit.per_second


@dataclass(frozen=True)
class Target:
    """What a request reaches, for limiting: its class, the endpoint and the store (or API key digest)."""

    cls: LimitClass
    endpoint: str
    store: str


_PUBLIC: Final = {"u": "unsubscribe", "preferences": "preferences", "confirm": "confirm", "s": "survey",
                  "o": "order"}
_PROVIDERS: Final = frozenset({"line", "twilio", "aliyun_sms"})


def target_of(path: str, headers: Iterable[tuple[bytes, bytes]] = (), method: str = "GET") -> Target | None:
    """The limited endpoint ``method path`` reaches, or None when it is not limited here.  ``headers``:
    the request's, as ASGI gives them (only an API request's ``Authorization`` is read)."""
    parts = path.split("/")  # "/u/kumo/tok" → ["", "u", "kumo", "tok"]
    if len(parts) < 3 or parts[0] != "":
        return None
    head = parts[1]
    if head == "u" and method == "POST" and len(parts) >= 4 and parts[2]:
        return Target("one_click", "unsubscribe_post", parts[2])
    if head == "o" and method == "POST" and len(parts) >= 4 and parts[2]:
        return Target("public", "order_note", parts[2])  # its own bucket: the page's polls never use it up
    if head == "o" and len(parts) == 5 and parts[2] and parts[4] == "amp.json":
        return Target("one_click", "order_amp", parts[2])
    if head == "w" and len(parts) >= 4 and parts[2]:
        return Target("public", "thank_you_post" if method == "POST" else "thank_you", parts[2])
    if head in _PUBLIC and len(parts) >= 4 and parts[2]:
        return Target("public", _PUBLIC[head], parts[2])
    if head == "public" and len(parts) == 4 and parts[3] == "back-in-stock":
        return Target("public", "back_in_stock", parts[2])
    if head == "line" and len(parts) >= 5 and parts[2] == "link":
        return Target("public", "line_link", parts[3])
    if head == "webhooks" and len(parts) >= 4:
        if parts[2] == "esp" and len(parts) >= 5:
            return Target("webhooks", f"esp:{parts[3]}", parts[4])
        kind = parts[2] if parts[2] in _PROVIDERS else f"platform:{parts[2]}"
        return Target("webhooks", kind, parts[3])
    if head == "api" and parts[2] == "v1":
        authorization = next((v.decode("latin-1") for k, v in headers if k == b"authorization"), "")
        scheme, _, token = authorization.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        if not token:
            return None  # answered 401 without a look at the database
        digest = hashlib.blake2b(token.encode("utf-8", "replace"), digest_size=16).hexdigest()
        return Target("api", "api", digest)
    return None


def client_address(scope: Scope, trusted: tuple[Network, ...]) -> str:
    """The socket peer, or, when the peer is a trusted proxy, the right-most ``X-Forwarded-For``
    address that is not itself one."""
    peer = scope.get("client")
    address = str(peer[0]) if peer else ""
    if not trusted or not _is_trusted(address, trusted):
        return address
    forwarded = [value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"x-forwarded-for"]
    hops = [hop.strip() for line in forwarded for hop in line.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop if _parse(hop) is not None else address
        address = hop
    return address


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def _is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    parsed = _parse(address)
    return parsed is not None and any(parsed in network for network in trusted)


def counted_as(address: str) -> str:
    """The part of an address a bucket counts: an IPv6 address by its /64."""
    if ":" not in address:
        return address
    parsed = _parse(address)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((int(parsed) >> 64 << 64, 64)))
    return address


_HTML_ENDPOINTS: Final = frozenset({"unsubscribe", "unsubscribe_post", "preferences", "confirm", "survey", "order",
                                    "line_link"})

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>Too many requests</title></head>
<body><main><h1>Too many requests</h1>
<p>Too many requests came from your network. Please try again in {seconds} seconds.</p>
<p lang="ja">リクエストが多すぎます。{seconds} 秒後にもう一度お試しください。</p>
<p lang="zh-Hans">请求过于频繁，请在 {seconds} 秒后重试。</p></main></body></html>
"""


def refusal(target: Target, retry_after: int) -> Response:
    """The 429 answer: a short page where a person is looking, JSON for programs."""
    headers = {"Retry-After": str(retry_after), "Cache-Control": "no-store"}
    if target.endpoint in _HTML_ENDPOINTS:
        return HTMLResponse(_PAGE.format(seconds=retry_after), status_code=429,
                            headers={**headers, "Referrer-Policy": "no-referrer"})
    return error(429, "rate_limited", f"too many requests; try again in {retry_after} seconds", headers=headers)


MAX_KEY_CHARS: Final = 160


def bucket_key(target: Target, client: str) -> str:
    """The bucket's key; a long one (the path's parts are the sender's to choose) by its digest, so
    no bucket holds more than ``MAX_KEY_CHARS`` characters of key."""
    key = f"{target.endpoint}\x00{target.store}\x00{client}"
    if len(key) <= MAX_KEY_CHARS:
        return key
    return "#" + hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()


class RateLimits:
    """The ASGI layer: limits the requests ``target_of`` names, passes every other one on."""

    def __init__(self, app: ASGIApp, settings: RateLimitSettings, clock: Callable[[], float]) -> None:
        self.app = app
        self.settings = settings
        self.buckets = TokenBuckets(clock, settings.max_keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trusted = self.settings.trusted_proxies
        client = client_address(scope, trusted)
        if trusted and scope.get("client") and client != scope["client"][0]:
            scope = {**scope, "client": (client, 0)}
        target = target_of(scope["path"], scope.get("headers", ()), scope["method"])
        if target is not None:
            who = "" if target.cls == "api" else counted_as(client)
            wait = self.buckets.take(bucket_key(target, who), self.settings.limits[target.cls])
            if wait > 0:
                await refusal(target, max(1, math.ceil(wait)))(scope, receive, send)
                return
        await self.app(scope, receive, send)
