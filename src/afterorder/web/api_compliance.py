"""The compliance part of the REST API: the store's settings and consent records.

* ``GET /api/v1/compliance`` and ``PATCH /api/v1/compliance`` — marketing rule, China AD prefix,
  double opt-in, quiet hours, caps (the DKIM key is set with ``afterorder store dkim``).
* ``POST /api/v1/consents`` — record consent given or withdrawn elsewhere (a sign-up form, a
  call), with the wording shown and the source IP.
* ``GET /api/v1/consents/{customer}`` — a customer's consent state and every recorded change.
* ``POST /api/v1/unsubscribes`` — a mail to ``unsubscribe+TOKEN@domain`` (the List-Unsubscribe
  mailto: address, which reaches the store's own mail server) passed on by the store.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.responses import JSONResponse

from afterorder.audit import log as audit
from afterorder.audit import sources
from afterorder.audit.changes import setting_changes
from afterorder.compliance import tokens
from afterorder.compliance.consent import (
    CHANNELS,
    TOPICS,
    Change,
    ConsentMethod,
    ConsentStatus,
    current,
    history,
    record,
)
from afterorder.compliance.settings import SettingsError, load_one, update_settings
from afterorder.compliance.unsubscribe import unsubscribe
from afterorder.db.schema import customers
from afterorder.signing import BadToken
from afterorder.web.api import ApiError, StoreDep, runtime_of
from afterorder.web.errors import error
from afterorder.web.openapi_errors import NOT_FOUND

router = APIRouter(prefix="/api/v1", tags=["compliance"])
PURPOSES = ("marketing", *(f"topic:{t}" for t in TOPICS))


class _Strict(BaseModel):
    """A JSON boolean is true or false, a number a number: 0 or "yes" for a boolean is a 422, not a guess."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class ComplianceChange(_Strict):
    marketing_rule: Literal["opt-in", "soft-opt-in", "opt-out"] | None = None
    china_ad_prefix: bool | None = None
    double_opt_in: bool | None = None
    quiet_hours: Annotated[str, Field(max_length=11, description="HH:MM-HH:MM or off")] | None = None
    caps: Annotated[list[Annotated[str, Field(max_length=64)]], Field(
        max_length=10, description="CHANNEL:N/HOURS or CHANNEL:off")] = []


class ConsentIn(_Strict):
    customer_id: Annotated[str, Field(min_length=1, max_length=255, description="the store's customer id")]
    channel: Literal["email", "sms"] = "email"
    purpose: Annotated[str, Field(max_length=64, json_schema_extra={"enum": list(PURPOSES)})] = "marketing"
    status: Literal["granted", "withdrawn"]
    method: Literal["form", "import", "checkout", "api"] = "form"
    wording: Annotated[str, Field(min_length=1, max_length=4000, description="what the customer was shown")]
    source_ip: Annotated[str, Field(max_length=64)] | None = None


@router.get("/compliance", summary="The store's compliance settings")
async def get_compliance(request: Request, store: StoreDep) -> dict[str, Any]:
    async with runtime_of(request).engine.connect() as conn:
        return (await load_one(conn, store.id)).public()


@router.patch("/compliance", summary="Change the store's compliance settings (the fields given)")
async def patch_compliance(request: Request, store: StoreDep, change: ComplianceChange) -> dict[str, Any]:
    runtime = runtime_of(request)
    try:
        async with runtime.engine.begin() as conn:
            before = (await load_one(conn, store.id)).public()
            settings = await update_settings(
                conn, store.id, runtime.clock.now(), rule=change.marketing_rule,
                china_ad_prefix=change.china_ad_prefix, double_opt_in=change.double_opt_in,
                quiet_hours=change.quiet_hours, caps=change.caps)
            for changed in setting_changes(before, settings.public(), "compliance."):
                await audit.record(conn, store.id, sources.api_key(request, store.api_key_prefix), changed,
                             runtime.clock.now())
    except SettingsError as exc:
        raise ApiError(error(422, "invalid_setting", str(exc))) from None
    return settings.public()


async def _customer_id(request: Request, store_id: int, external_id: str) -> int:
    async with runtime_of(request).engine.connect() as conn:
        row = (await conn.execute(select(customers.c.id).where(
            customers.c.store_id == store_id, customers.c.external_id == external_id))).first()
    if row is None:
        raise ApiError(error(404, "unknown_customer", f"no customer {external_id!r}; send an event with it first"))
    return int(row.id)


@router.post("/consents", summary="Record a consent given or withdrawn (only a real change is recorded)",
             responses={**NOT_FOUND, 201: {"description": "recorded a change"}})
async def post_consent(request: Request, store: StoreDep, body: ConsentIn) -> JSONResponse:
    if body.purpose not in PURPOSES:
        raise ApiError(error(422, "invalid_request", f"purpose: use one of {', '.join(PURPOSES)}"))
    customer_id = await _customer_id(request, store.id, body.customer_id)
    runtime = runtime_of(request)
    async with runtime.engine.begin() as conn:
        changed = await record(conn, [Change(
            store.id, customer_id, ConsentStatus(body.status), ConsentMethod(body.method), body.channel,
            body.purpose, body.wording, body.source_ip or (request.client.host if request.client else None))],
            runtime.clock.now())
    return JSONResponse({"changed": bool(changed)}, status_code=201 if changed else 200)


@router.get("/consents/{customer}", summary="A customer's consent state and recorded changes", responses=NOT_FOUND)
async def get_consents(request: Request, store: StoreDep, customer: str) -> dict[str, Any]:
    customer_id = await _customer_id(request, store.id, customer)
    async with runtime_of(request).engine.connect() as conn:
        state = await current(conn, store.id, [customer_id], channel=None, purpose=None)
        changes = await history(conn, store.id, customer_id)
    return {
        "consents": [{"channel": ch, "purpose": p, "status": s} for (_, ch, p), s in sorted(state.items())],
        "changes": [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in c.items()
                     if k not in ("store_id", "customer_id")} for c in changes],
        "channels": list(CHANNELS),
    }


class MailtoUnsubscribe(_Strict):
    address: Annotated[str, Field(min_length=3, max_length=400, description="unsubscribe+TOKEN@domain, as received")]


@router.post("/unsubscribes", summary="Unsubscribe from a mail sent to the List-Unsubscribe mailto: address",
             responses={400: {"description": "the address carries no valid unsubscribe token"}})
async def post_unsubscribe(request: Request, store: StoreDep, body: MailtoUnsubscribe) -> dict[str, Any]:
    runtime = runtime_of(request)
    try:
        ref = tokens.read_unsubscribe(runtime.signers.of(store), tokens.token_in_address(body.address))
    except BadToken as exc:
        raise ApiError(error(400, "bad_token", f"address: {exc}")) from None
    changed = await unsubscribe(runtime.engine, runtime.intake, store, ref, method=ConsentMethod.MAILTO,
                                wording=f"mail to {body.address}", source_ip=None, now=runtime.clock.now())
    return {"changed": changed}
