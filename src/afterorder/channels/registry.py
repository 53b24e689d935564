"""The channel registry: for a store's message on a channel, the provider that sends it (and its
backup), each behind its rate.

Built from the stores' channel setup (``channels.setup``), read again at most every
``refresh_seconds`` per store; a provider whose options changed is rebuilt (the old one closed).
Email always has a route: a store that set up no email provider sends through the server's own
relay (``--smtp``), unlimited.  LINE and SMS have a route only when the store set one up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from afterorder.channels.base import Channel, ChannelKind, OutgoingMessage, SendOutcome, SendResult
from afterorder.channels.catalog import provider
from afterorder.channels.options import OptionsError
from afterorder.channels.rate import Bucket, TokenBucket, Unlimited
from afterorder.channels.setup import BACKUP, PRIMARY, ProviderSetup, configured_stores, load_setups, store_slugs
from afterorder.keys.sealing import Sealer

SERVER_RELAY = "smtp"


@dataclass
class Endpoint:
    provider: str
    channel: Channel
    bucket: Bucket
    fingerprint: tuple[object, ...]


@dataclass(frozen=True)
class Route:
    primary: Endpoint
    backup: Endpoint | None = None


class Unavailable:
    """A provider that cannot be used as stored: every message waits (TEMPORARY) until it is fixed."""

    def __init__(self, problem: str) -> None:
        self.problem = problem

    async def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(SendOutcome.TEMPORARY, None, self.problem)

    async def close(self) -> None:
        return None


class ChannelRegistry:
    def __init__(self, sealer: Callable[[], Sealer] | None, *, server_relay: Callable[[], Channel] | None = None,
                 client: httpx.AsyncClient | None = None, refresh_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, base_url: str | None = None) -> None:
        """``sealer`` gives what opens the stored credentials (asked only when a store has some);
        ``server_relay`` makes the server's own email channel (on first use); ``client`` is the
        HTTP client every HTTP provider shares (each makes its own when None)."""
        self.sealer = sealer
        self._base_url = base_url.rstrip("/") if base_url else None  # afterorder's public address: feedback URLs
        self._slugs: dict[int, str] = {}
        self._server_relay_factory = server_relay
        self._server_relay: Endpoint | None = None
        self._client = client
        self._refresh = refresh_seconds
        self._clock = clock
        self._endpoints: dict[tuple[int, ChannelKind, str], Endpoint] = {}
        self._read_at: dict[int, float] = {}

    @classmethod
    def of(cls, channel: Channel) -> ChannelRegistry:
        """A registry with one email channel for every store (tests, the dashboard's test sends)."""
        return cls(None, server_relay=lambda: channel)

    async def routes(self, conn: AsyncConnection, keys: Iterable[tuple[int, ChannelKind]]
                     ) -> dict[tuple[int, ChannelKind], Route | None]:
        """The route of each (store, channel); None where the store has no provider for it."""
        wanted = set(keys)
        stale = {sid for sid, _ in wanted if self._read_at.get(sid, -1e18) + self._refresh <= self._clock()}
        if stale and self.sealer is not None:
            stored = await configured_stores(conn, stale)
            if stored and self._base_url:
                self._slugs.update(await store_slugs(conn, stored))
            await self._reload(await load_setups(conn, self.sealer(), stored) if stored else [], stale)
        return {key: self._route(*key) for key in wanted}

    def _route(self, store_id: int, channel: ChannelKind) -> Route | None:
        primary = self._endpoints.get((store_id, channel, PRIMARY))
        backup = self._endpoints.get((store_id, channel, BACKUP))
        if primary is None and channel is ChannelKind.EMAIL:
            primary = self.server_relay()
        if primary is None:
            return None
        return Route(primary, backup)

    def server_relay(self) -> Endpoint | None:
        if self._server_relay is None and self._server_relay_factory is not None:
            self._server_relay = Endpoint(SERVER_RELAY, self._server_relay_factory(), Unlimited(clock=self._clock), ())
        return self._server_relay

    async def _reload(self, setups: list[ProviderSetup], stores: set[int]) -> None:
        seen: set[tuple[int, ChannelKind, str]] = set()
        for setup in setups:
            key = (setup.store_id, setup.channel, setup.role)
            seen.add(key)
            fingerprint = (setup.provider, tuple(sorted(setup.options().items())), setup.rate, setup.updated_at)
            current = self._endpoints.get(key)
            if current is not None and current.fingerprint == fingerprint:
                continue
            self._endpoints[key] = self._build(setup, fingerprint)
            if current is not None:
                await current.channel.close()
        for key in [k for k in self._endpoints if k[0] in stores and k not in seen]:
            await self._endpoints.pop(key).channel.close()
        now = self._clock()
        self._read_at.update({sid: now for sid in stores})

    def _build(self, setup: ProviderSetup, fingerprint: tuple[object, ...]) -> Endpoint:
        try:
            spec = provider(setup.provider)
        except OptionsError:  # stored by a version that had it: held, not failed, until set up again
            return Endpoint(setup.provider, Unavailable(f"{setup.provider}: this version has no such provider"),
                            Unlimited(clock=self._clock), fingerprint)
        problem = setup.problem
        if problem is None:
            try:
                options = spec.check(setup.options())
            except OptionsError as exc:
                problem = f"the stored options no longer check out: {exc}"
        if problem is not None:  # held back, not failed: the operator can fix the key or the options
            return Endpoint(setup.provider, Unavailable(f"{setup.provider}: {problem}"), Unlimited(clock=self._clock),
                            fingerprint)
        slug = self._slugs.get(setup.store_id)
        if spec.feedback is not None and self._base_url and slug:
            options = spec.feedback(options, f"{self._base_url}/webhooks/{spec.name}/{quote(slug, safe='')}")
        rate = setup.rate if setup.rate is not None else spec.default_rate
        bucket: Bucket = TokenBucket(rate, clock=self._clock) if rate else Unlimited(clock=self._clock)
        return Endpoint(setup.provider, spec.build(options, self._client), bucket, fingerprint)

    def forget(self, store_id: int) -> None:
        """Read this store's setup again at the next message (it was just changed here)."""
        self._read_at.pop(store_id, None)

    async def close(self) -> None:
        for endpoint in self._endpoints.values():
            await endpoint.channel.close()
        self._endpoints.clear()
        if self._server_relay is not None:
            await self._server_relay.channel.close()
            self._server_relay = None
