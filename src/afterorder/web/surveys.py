"""Survey pages reached from mail, with no login: the link carries a token signed with the store's key
(purpose ``survey``: which survey, customer and order).

* ``GET /s/STORE/nps/TOKEN/SCORE`` — one click on a 0–10 button in the NPS mail records that score
  and shows a thank-you page with a comment box (and the score, which can be changed there).
  Answering is idempotent: the same score again changes nothing; a later click or the page's POST
  replaces the answer.  Mail scanners prefetch links, so a GET may come from a machine: clicks on
  several scores within seconds are taken for a scanner and record nothing (see
  ``afterorder.surveys.answers``), and the ``nps`` flow reads the answer a day after the first one,
  the store's alert goes ten minutes after.
* ``GET /s/STORE/nps/TOKEN`` — the same page before any score is chosen (the one link an SMS has room
  for, where a mail has eleven buttons); it records nothing.
* ``POST /s/STORE/nps/TOKEN`` — the page's form: ``score`` and ``comment``.
* ``GET /s/STORE/profile/TOKEN`` — the profile survey form (the store's questions);
  ``POST`` stores the answers as customer properties.

An altered or foreign token gets 400 and changes nothing; bad form input gets 400 naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from afterorder.content.store_content import ProfileSurvey, load_content, localized
from afterorder.db.stores import StoreRow, get_store
from afterorder.flows.followups import SURVEY_PURPOSE
from afterorder.runtime import Runtime
from afterorder.signing import BadToken
from afterorder.surveys.answers import Subject, current, customer_row, record
from afterorder.surveys.text import survey_text
from afterorder.web.public import _form, _Refused
from afterorder.web.public_text import page_locale

router = APIRouter(include_in_schema=False)
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
MAX_COMMENT = 2000


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _page(locale: str, status: int, store: StoreRow | None, title: str, lines: list[str], **context: Any
          ) -> HTMLResponse:
    html = _env.get_template("public/survey.html").render(
        locale=locale, store_name=store.name if store else "afterorder", title=title, lines=lines,
        t=survey_text(locale), **context)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


async def _open(request: Request, slug: str, token: str, survey: str) -> tuple[StoreRow, Subject, dict[str, Any]]:
    async with _runtime(request).engine.connect() as conn:
        store = await get_store(conn, slug)
        if store is None:
            raise _Refused("bad_link")
        try:
            payload = _runtime(request).signers.of(store).verify(SURVEY_PURPOSE, token)
        except BadToken:
            raise _Refused("bad_link") from None
        if not isinstance(payload, dict) or payload.get("s") != survey or not isinstance(payload.get("c"), int):
            raise _Refused("bad_link")
        order_id = payload.get("o")
        subject = Subject(survey, payload["c"], order_id if isinstance(order_id, int) else None)
        customer = await customer_row(conn, store.id, subject.customer_id)
        if customer is None:
            raise _Refused("bad_link")
    return store, subject, customer


def _refused(request: Request, exc: _Refused, store: StoreRow | None = None) -> HTMLResponse:
    locale = page_locale(request.headers.get("accept-language", "").split(",")[0].split(";")[0] or None,
                         store.locale if store else None)
    t = survey_text(locale)
    line = t["bad_link"] if exc.key == "bad_link" else t["bad_input"].replace("{reason}", exc.values.get("reason", ""))
    return _page(locale, exc.status, store, t["error_title"], [line])


async def _record(request: Request, store: StoreRow, subject: Subject, **answer: Any) -> None:
    runtime = _runtime(request)
    try:
        await record(runtime.intake, runtime.engine, runtime.renderer, store, runtime.settings.base_url, subject,
                     runtime.clock.now(), **answer)
    except LookupError:
        raise _Refused("bad_link") from None
    runtime.poke()


def _nps_page(store: StoreRow, subject: Subject, customer: dict[str, Any], score: int, comment: str, token: str,
              saved: bool) -> HTMLResponse:
    locale = page_locale(customer.get("locale"), store.locale)
    t = survey_text(locale)
    lines = [t["nps_thanks"].replace("{score}", str(score))]
    if saved:
        lines.append(t["comment_saved"])
    return _page(locale, 200, store, t["nps_title"], lines, form="nps", action=f"/s/{store.slug}/nps/{token}",
                 score=score, comment=comment)


@router.get("/s/{slug}/nps/{token}/{score}")
async def nps_click(request: Request, slug: str, token: str, score: str) -> HTMLResponse:
    try:
        store, subject, customer = await _open(request, slug, token, "nps")
        if not score.isdigit() or not 0 <= int(score) <= 10:
            raise _Refused("bad_input", reason="score: a number from 0 to 10")
        await _record(request, store, subject, score=int(score), via="click")
    except _Refused as exc:
        return _refused(request, exc)
    async with _runtime(request).engine.connect() as conn:
        found = await current(conn, store.id, subject)
    return _nps_page(store, subject, customer, int(score), (found or {}).get("comment") or "", token, False)


@router.get("/s/{slug}/nps/{token}")
async def nps_question(request: Request, slug: str, token: str) -> HTMLResponse:
    try:
        store, subject, customer = await _open(request, slug, token, "nps")
    except _Refused as exc:
        return _refused(request, exc)
    async with _runtime(request).engine.connect() as conn:
        found = await current(conn, store.id, subject) or {}
    locale = page_locale(customer.get("locale"), store.locale)
    t = survey_text(locale)
    return _page(locale, 200, store, t["nps_question_title"], [t["nps_question"].replace("{store}", store.name)],
                 form="nps", action=f"/s/{store.slug}/nps/{token}", score=found.get("score"),
                 comment=found.get("comment") or "")


@router.post("/s/{slug}/nps/{token}")
async def nps_form(request: Request, slug: str, token: str) -> HTMLResponse:
    try:
        store, subject, customer = await _open(request, slug, token, "nps")
        form = await _form(request)
        raw = (form.get("score") or [""])[0]
        if not raw.isdigit() or not 0 <= int(raw) <= 10:
            raise _Refused("bad_input", reason="score: a number from 0 to 10")
        comment = (form.get("comment") or [""])[0].strip()
        if len(comment) > MAX_COMMENT:
            raise _Refused("bad_input", reason=f"comment: at most {MAX_COMMENT} characters")
        await _record(request, store, subject, score=int(raw), comment=comment or None)
    except _Refused as exc:
        return _refused(request, exc)
    return _nps_page(store, subject, customer, int(raw), comment, token, True)


async def _survey(request: Request, store: StoreRow) -> ProfileSurvey:
    async with _runtime(request).engine.connect() as conn:
        survey = (await load_content(conn, {store.id}))[store.id].profile_survey
    if survey is None:
        raise _Refused("bad_link", 404)
    return survey


def _profile_page(store: StoreRow, customer: dict[str, Any], survey: ProfileSurvey, token: str, status: int,
                  lines_key: str | None, values: dict[str, Any]) -> HTMLResponse:
    locale = page_locale(customer.get("locale"), store.locale)
    t = survey_text(locale)
    questions = [{"key": q.key, "label": localized(q.label, locale), "type": q.type,
                  "options": [(o.value, localized(o.label, locale)) for o in q.options],
                  "value": values.get(q.key)} for q in survey.questions]
    title = localized(survey.title, locale) or t["profile_title"]
    return _page(locale, status, store, title, [t[lines_key]] if lines_key else [t["profile_intro"]],
                 form="profile", action=f"/s/{store.slug}/profile/{token}", questions=questions)


@router.get("/s/{slug}/profile/{token}")
async def profile_page(request: Request, slug: str, token: str) -> HTMLResponse:
    try:
        store, _, customer = await _open(request, slug, token, "profile")
        survey = await _survey(request, store)
    except _Refused as exc:
        return _refused(request, exc)
    return _profile_page(store, customer, survey, token, 200, None, dict(customer.get("properties") or {}))


@router.post("/s/{slug}/profile/{token}")
async def profile_submit(request: Request, slug: str, token: str) -> HTMLResponse:
    try:
        store, subject, customer = await _open(request, slug, token, "profile")
        survey = await _survey(request, store)
        form = await _form(request)
        answers: dict[str, Any] = {}
        for q in survey.questions:
            given = [v.strip() for v in form.get(q.key, []) if v.strip()]
            allowed = {o.value for o in q.options}
            if q.type != "text" and any(v not in allowed for v in given):
                raise _Refused("bad_input", reason=f"{q.key}: choose one of {', '.join(sorted(allowed))}")
            if q.type == "choice" and len(given) > 1:
                raise _Refused("bad_input", reason=f"{q.key}: choose one")
            if q.type == "text" and given and len(given[0]) > 500:
                raise _Refused("bad_input", reason=f"{q.key}: at most 500 characters")
            if given:
                answers[q.key] = given if q.type == "multi" else given[0]
        if not answers:
            raise _Refused("bad_input", reason="answer at least one question")
        await _record(request, store, subject, answers=answers)
    except _Refused as exc:
        return _refused(request, exc)
    return _profile_page(store, customer, survey, token, 200, "profile_saved", answers)
