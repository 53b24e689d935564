"""The channels part of the admin API: which provider sends a store's email, LINE and SMS, and the
order transactional messages try the channels in.

* ``PUT /api/v1/channels/{provider}`` — set a provider up (``{"options": {...}, "role": "primary",
  "rate": 10}``): 201 the first time for its channel and role, 200 when it replaces one; the setup
  comes back with its secrets masked.
* ``GET /api/v1/channels`` — the store's providers (secrets masked), order, LINE and SMS settings.
* ``PATCH /api/v1/channels`` — change the order, ``line_notifications``, ``sms_help`` or ``amp_email``.
* ``DELETE /api/v1/channels/{channel}?role=backup`` — remove the provider of a channel.

A server whose secret key is unusable (not a Fernet key; a key file it cannot read) answers 503
``secret_key`` to what would seal or open secrets, before writing anything.

Errors: an option that is unknown, missing or refused is a 422 ``invalid_options`` whose
``details[].field`` names each (``options.channel_secret``); a provider or channel the path names
that does not exist is a 404 (``unknown_provider``, ``unknown_channel``: the path names no
resource), with the known ones listed.  Nothing is stored when an error is returned.  A secret is
never in a response: only its name, with ``********``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from afterorder.audit import sources
from afterorder.audit.log import Action, Change, record
from afterorder.channels.arguments import describe
from afterorder.channels.base import ChannelKind
from afterorder.channels.catalog import PROVIDERS
from afterorder.channels.options import OptionsError
from afterorder.channels.setup import (
    MAX_RATE,
    MAX_SMS_HELP,
    ShownSetup,
    load_prefs,
    load_setups,
    parse_channel,
    remove_provider,
    set_provider,
    update_prefs,
)
from afterorder.db.stores import StoreRow
from afterorder.keys.sealing import Sealer, SealError
from afterorder.web.api import ApiError, StoreDep, runtime_of
from afterorder.web.errors import error

router = APIRouter(prefix="/api/v1", tags=["channels"])
Role = Literal["primary", "backup"]
_OPTIONS_HELP = "; ".join(f"`{p.name}` ({p.channel.value}): {describe(p).replace('--', '')}"
                          for p in PROVIDERS.values())


class ProviderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    options: dict[str, Any] = Field(description=f"the provider's options, by name: {_OPTIONS_HELP}")
    role: Role = Field("primary", description="backup: used while the primary refuses for now (busy, down)")
    rate: Annotated[float, Field(gt=0, le=MAX_RATE, description="messages per second at most")] | None = None


class ProviderOut(BaseModel):
    channel: ChannelKind
    role: Role
    provider: str
    options: dict[str, Any] = Field(description="plain options as stored; each secret's name with ********")
    rate: float | None
    default_rate: float | None = Field(description="the provider's own limit, used when rate is null")
    updated_at: str = Field(description="ISO 8601")
    problem: str | None = Field(description="why the setup cannot be used as stored (its secrets cannot be opened)")


class ChannelsOut(BaseModel):
    providers: list[ProviderOut]
    order: list[ChannelKind] = Field(description="transactional messages go on the first the customer can receive")
    line_notifications: bool = Field(description="LINE approved the account for LINE notification messages")
    sms_help: str = Field(description="the answer to an inbound SMS HELP")
    line_paused_until: str | None = Field(description="LINE's monthly quota used up: email until then (ISO 8601)")
    amp_email: bool = Field(description="the shipping mails carry an AMP for Email part with the live order status")


class ChannelsChange(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # 0 is no boolean: a 422, not a guess
    order: Annotated[list[str], Field(max_length=len(ChannelKind), description="e.g. [\"line\", \"email\"]",
                                      json_schema_extra={"uniqueItems": True, "items": {
                                          "type": "string", "enum": [c.value for c in ChannelKind]}})
                     ] | None = None
    line_notifications: bool | None = None
    sms_help: Annotated[str, Field(max_length=MAX_SMS_HELP)] | None = None
    amp_email: bool | None = None


def _sealer(request: Request) -> Sealer:
    try:
        return runtime_of(request).sealer
    except SealError as exc:  # the server's key setting is wrong: not the client's doing
        raise ApiError(error(503, "secret_key", str(exc))) from None


def _invalid(exc: OptionsError) -> ApiError:
    details = [{"loc": where.split("."), "field": where, "message": problem, "type": "invalid_option"}
               for where, problem in exc.fields.items()]
    fields = ", ".join(exc.fields) or "options"
    return ApiError(error(422, "invalid_options", f"nothing was stored: invalid {fields}", details=details))


def _not_found(code: str, exc: OptionsError) -> ApiError:
    details = [{"loc": [where], "field": where, "message": problem, "type": code}
               for where, problem in exc.fields.items()]
    return ApiError(error(404, code, str(exc), details=details))


def _out(shown: ShownSetup) -> ProviderOut:
    return ProviderOut.model_validate(shown)


async def _view(request: Request, store: StoreRow, sealer: Sealer) -> ChannelsOut:
    async with runtime_of(request).engine.connect() as conn:
        setups = await load_setups(conn, sealer, [store.id])
        prefs = (await load_prefs(conn, [store.id]))[store.id]
    return ChannelsOut.model_validate({"providers": [s.shown() for s in setups], **prefs.shown()})


@router.put(
    "/channels/{name}", response_model=ProviderOut,
    summary="Set up a provider for its channel (replaces the one holding that role)",
    description=f"Providers and their options: {_OPTIONS_HELP}. Secret options are stored encrypted and shown "
    "masked. An unknown provider is a 404; an unknown, missing or refused option a 422 naming each.",
    responses={200: {"description": "replaced the provider holding this channel and role"},
               201: {"description": "set up (the channel and role had no provider)"},
               400: {"description": "the body is not JSON"},
               401: {"description": "wrong or missing API key"}, 404: {"description": "no such provider"},
               422: {"description": "invalid options, each named in details[].field"}},
)
async def put_channel(request: Request, response: Response, store: StoreDep, body: ProviderIn,
                      provider: Annotated[str, Path(alias="name", description="the provider: smtp, ses, ...")]
                      ) -> ProviderOut:
    runtime = runtime_of(request)
    sealer = _sealer(request)
    try:
        async with runtime.engine.begin() as conn:
            saved = await set_provider(conn, sealer, store.id, provider, body.options, runtime.clock.now(),
                                       role=body.role, rate=body.rate)
            await record(conn, store.id, sources.api_key(request, store.api_key_prefix), Change(
                Action.CHANNEL_SET, saved.setup.channel.value,
                {"provider": provider, "role": body.role, "rate": body.rate,
                 "options": ", ".join(sorted(body.options))}), runtime.clock.now())
    except OptionsError as exc:
        raise (_not_found("unknown_provider", exc) if "provider" in exc.fields else _invalid(exc)) from None
    runtime.registry.forget(store.id)  # the next message of this store goes through the new setup
    response.status_code = 201 if saved.created else 200
    return _out(saved.setup.shown())


@router.get("/channels", response_model=ChannelsOut, summary="The store's providers (secrets masked) and order")
async def get_channels(request: Request, store: StoreDep) -> ChannelsOut:
    return await _view(request, store, _sealer(request))


@router.patch("/channels", response_model=ChannelsOut,
              summary="Change the order of the channels, LINE notification messages, the SMS HELP answer or AMP email",
              responses={422: {"description": "an unknown or repeated channel, or a field out of range"}})
async def patch_channels(request: Request, store: StoreDep, change: ChannelsChange) -> ChannelsOut:
    runtime = runtime_of(request)
    sealer = _sealer(request)  # before anything is written: the answer shows the providers
    try:
        async with runtime.engine.begin() as conn:
            await update_prefs(conn, store.id, runtime.clock.now(), order=change.order,
                               line_notifications=change.line_notifications, sms_help=change.sms_help,
                               amp_email=change.amp_email)
            await record(conn, store.id, sources.api_key(request, store.api_key_prefix), Change(
                Action.CHANNELS_CHANGED, "channels",
                {k: ", ".join(v) if isinstance(v, list) else v
                 for k, v in change.model_dump(exclude_unset=True).items()}), runtime.clock.now())
    except OptionsError as exc:
        raise _invalid(exc) from None
    runtime.registry.forget(store.id)
    return await _view(request, store, sealer)


@router.delete("/channels/{name}", status_code=204, response_class=Response,
               summary="Remove the provider of a channel (email falls back to the server's own relay)",
               responses={404: {"description": "no such channel, or no provider holds that role"},
                          422: {"description": "a LINE or SMS primary whose backup is still set"}})
async def delete_channel(request: Request, store: StoreDep,
                         channel: Annotated[str, Path(alias="name", description="the channel: email, line or sms")],
                         role: Annotated[Role, Query()] = "primary") -> Response:
    try:
        kind = parse_channel(channel)
    except OptionsError as exc:
        raise _not_found("unknown_channel", exc) from None
    try:
        async with runtime_of(request).engine.begin() as conn:
            removed = await remove_provider(conn, store.id, kind, role)
            if removed:
                await record(conn, store.id, sources.api_key(request, store.api_key_prefix),
                             Change(Action.CHANNEL_REMOVED, kind.value, {"role": role}),
                             runtime_of(request).clock.now())
    except OptionsError as exc:
        raise _invalid(exc) from None
    if not removed:
        raise ApiError(error(404, "not_set_up", f"no {role} provider is set up for {kind.value}"))
    runtime_of(request).registry.forget(store.id)
    return Response(status_code=204)
