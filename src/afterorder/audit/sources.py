"""Who a change comes from: a dashboard user's request, an API key's request, or the command line.

An API key is named by the store's key prefix (the first characters every listing already shows),
never by the key itself; the address is the client's as the server sees it after its trusted
proxies (``web/rate_limits.py``)."""

from __future__ import annotations

import getpass

from starlette.requests import Request

from afterorder.audit.log import Actor, ActorKind, Origin, Source


def origin_of(request: Request) -> Origin:
    client = request.client
    agent = request.headers.get("user-agent")
    return Origin(client.host if client else "unknown", agent[:255] if agent else None)


def dashboard_user(request: Request, user_id: int, username: str) -> Source:
    return Source(Actor(ActorKind.USER, username, user_id), origin_of(request))


def key_label(api_key_prefix: str) -> str:
    return f"key {api_key_prefix}…"


def api_key(request: Request, api_key_prefix: str) -> Source:
    return Source(Actor(ActorKind.API_KEY, key_label(api_key_prefix)), origin_of(request))


def command_line() -> Source:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Source(Actor(ActorKind.CLI, f"cli:{user}"), Origin("local"))
