"""A/B tests: start one on a flow's send step (variant B's subject per locale and/or its own message,
the split, the metric, the confidence and the minimum sample), see each variant's results with the
significance test, and stop one.  The winner is recorded by the workers (``abtests.results.settle``).
The verdict and the form's problems are worded here, in the page's language (``verdict_text``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from afterorder.abtests.model import CONFIDENCES, METRICS, MIN_SAMPLE_FLOOR, AbTestError, Variant, variant_template
from afterorder.abtests.records import start_test, stop_test, tests_of
from afterorder.abtests.significance import Arm, decide, z_test
from afterorder.analytics.abtests import AbTestResults, results_of
from afterorder.content.overrides import TemplateDraftError, check_variant
from afterorder.flows.spec import FlowSpec, Send
from afterorder.web.dashboard import locale, wording
from afterorder.web.dashboard.access import Viewer, page_error, render, runtime_of, viewer
from afterorder.web.dashboard.locale import N_, _

router = APIRouter(include_in_schema=False)
DEFAULT_MIN_SAMPLE = 1000


@dataclass(frozen=True)
class SendStep:
    flow: FlowSpec
    index: int
    send: Send

    @property
    def key(self) -> str:
        return f"{self.flow.id}:{self.index}"



def step_label(step: SendStep) -> str:
    return _("{flow} · step {step}: {template}").format(flow=wording.flow_name(step.flow), step=step.index + 1,
                                                         template=step.send.template)


def verdict_text(results: AbTestResults) -> str:
    """Where the test stands, as ``abtests.significance.decide`` and ``results_of`` see it."""
    test = results.test
    if test.status == "stopped":
        if test.winner:
            return _("stopped ({winner} had won); the step sends the message as written").format(winner=test.winner)
        return _("stopped; the step sends the message as written")
    if test.winner is not None:
        return _("{winner} won; every message of this step now uses it").format(winner=test.winner)
    arms = [Arm(v.key, v.metrics.delivered, v.successes) for v in results.variants]
    short = [a for a in arms if a.delivered < test.min_sample]
    if short:
        return _("waiting for the minimum sample ({sample} delivered per variant); still needed: {need}").format(
            sample=locale.number(test.min_sample),
            need=_(", ").join(f"{a.key} {locale.number(test.min_sample - a.delivered)}" for a in short))
    ranked = sorted(arms, key=lambda a: a.rate or 0.0, reverse=True)
    leader = ranked[0]
    if decide(arms, test.confidence, test.min_sample).winner is None:
        if (ranked[1].rate or 0.0) == (leader.rate or 0.0):
            return _("no variant leads: {a} and {b} are level").format(a=leader.key, b=ranked[1].key)
        alpha = (1 - test.confidence) / (len(arms) - 1)
        worst = max(z_test(other, leader).p_value for other in ranked[1:])
        return _("{leader} leads, but not yet at {confidence} confidence (p = {p}, needs < {alpha})").format(
            leader=leader.key, confidence=locale.whole_percent(test.confidence * 100), p=locale.p_value(worst),
            alpha=f"{alpha:.4g}")
    worst = max(z_test(other, leader).p_value for other in ranked[1:])
    alpha = (1 - test.confidence) / (len(arms) - 1)
    return _("{leader} wins at {confidence} confidence (p = {p} < {alpha})").format(
        leader=leader.key, confidence=locale.whole_percent(test.confidence * 100), p=locale.p_value(worst),
        alpha=f"{alpha:.4g}")


# abtests.model's and abtests.records's problems with a form, by their English wording
PROBLEMS = {text: text for text in (
    N_("split: the shares must add up to 100 %"), N_("name: at most 128 characters"),
    N_("step: this step already has a test; stop it before starting another"),
    N_("variant B: change the subject or the message, or there is nothing to test"),
)}


SUBJECT_TOO_LONG = re.compile(r"subject_(?P<language>[A-Za-z_-]+): one line of at most (?P<n>\d+) characters")


def problem_text(problem: str) -> str:
    """A problem with the form in the page's language (a template's own error, with its line, as it is)."""
    if problem in PROBLEMS:
        return _(PROBLEMS[problem])
    if found := SUBJECT_TOO_LONG.fullmatch(problem):
        return _("subject_{language}: one line of at most {n} characters").format(
            language=found["language"], n=locale.number(int(found["n"])))
    return problem


def send_steps(request: Request, who: Viewer) -> list[SendStep]:
    specs = runtime_of(request).catalog.flows_for(who.store.slug)
    return [SendStep(spec, i, step) for spec in sorted(specs.values(), key=lambda s: s.id)
            for i, step in enumerate(spec.program) if isinstance(step, Send)]


def _step(request: Request, who: Viewer, key: str) -> SendStep:
    found = next((s for s in send_steps(request, who) if s.key == key), None)
    if found is None:
        raise page_error(404, _("step: no send step {key} in this store's flows").format(key=repr(key)))
    return found


@router.get("/dashboard/{slug}/tests")
async def tests_page(request: Request, slug: str) -> Response:
    who = await viewer(request, slug)
    runtime = runtime_of(request)
    results: list[tuple[AbTestResults, object]] = []
    async with runtime.engine.connect() as conn:
        for test, started, _decided in await tests_of(conn, who.store.id):
            results.append((await results_of(conn, test, started), started))
    return render(request, who, "abtests.html", title=_("A/B tests"), results=results,
                  steps=send_steps(request, who), step_label=step_label, verdict_text=verdict_text)


async def _form(request: Request, who: Viewer, step: SendStep, form: dict[str, str], problem: str = "",
                status: int = 200) -> Response:
    runtime = runtime_of(request)
    async with runtime.engine.connect() as conn:
        renderer = await runtime.renderers.for_store(conn, who.store.id)
    locales = renderer.locales_for(step.send.template)
    sources = {loc: form.get(f"source_{loc}") or renderer.source(step.send.template, loc) for loc in locales}
    return render(request, who, "abtest_new.html", title=_("New A/B test"), step=step, step_label=step_label,
                  locales=locales,
                  sources=sources, form=form, problem=problem, metrics=METRICS, confidences=CONFIDENCES,
                  min_floor=MIN_SAMPLE_FLOOR, default_min=DEFAULT_MIN_SAMPLE, status=status)


@router.get("/dashboard/{slug}/tests/new")
async def new_test_page(request: Request, slug: str) -> Response:
    who = await viewer(request, slug)
    if not who.may_edit:
        raise page_error(403, _("the role {role} in {store} may not start a test").format(
            role=wording.role(who.role), store=slug))
    return await _form(request, who, _step(request, who, request.query_params.get("step", "")), {})


def _whole(form: dict[str, str], name: str, low: int, high: int) -> int:
    text = form.get(name, "").strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise AbTestError(_("{field}: a whole number from {low} to {high}").format(
            field=name, low=locale.number(low), high=locale.number(high)))
    return int(text)


@router.post("/dashboard/{slug}/tests")
async def create_test(request: Request, slug: str) -> Response:
    who = await viewer(request, slug, needs="edit")
    runtime = runtime_of(request)
    form = {k: v.replace("\r\n", "\n") for k, v in who.form.items()}
    step = _step(request, who, form.get("step", ""))
    snapshot = who.store.snapshot(runtime.settings.base_url)
    async with runtime.engine.connect() as conn:
        renderer = await runtime.renderers.for_store(conn, who.store.id)
    template = step.send.template
    locales = renderer.locales_for(template)
    try:
        share = _whole(form, "split", 1, 99)
        min_sample = _whole(form, "min_sample", MIN_SAMPLE_FLOOR, 10_000_000)
        try:
            confidence = float(form.get("confidence", ""))
        except ValueError:
            raise AbTestError(_("confidence: one of 0.9, 0.95, 0.99")) from None
        subjects = {loc: form[f"subject_{loc}"].strip() for loc in locales if form.get(f"subject_{loc}", "").strip()}
        given = {loc: form.get(f"source_{loc}", "") for loc in locales}
        edited = any(given[loc] and given[loc] != renderer.source(template, loc) for loc in locales)
        # a changed message: every locale gets B's own file (unchanged ones as they are), so a customer
        # is never sent another locale's copy
        sources = {loc: given[loc] or renderer.source(template, loc) for loc in locales} if edited else {}
        variant_b = Variant("B", share, subjects, sources)
        for loc in locales:
            if loc in subjects or loc in sources:
                try:
                    check_variant(renderer, template, loc, snapshot, name=variant_template(0, "B", template),
                                  source=sources.get(loc), subject=subjects.get(loc),
                                  marketing=step.send.category == "marketing")
                except TemplateDraftError as exc:
                    field = f"source_{loc}" if loc in sources else f"subject_{loc}"
                    raise AbTestError(f"{field}: {exc}") from None
        async with runtime.engine.begin() as conn:
            await start_test(conn, who.store.id, name=form.get("name", ""), flow_id=step.flow.id, step=step.index,
                             template=template, variants=(Variant("A", 100 - share), variant_b),
                             metric=form.get("metric", ""), confidence=confidence, min_sample=min_sample,
                             user=who.session.username, now=runtime.clock.now())
    except AbTestError as exc:
        return await _form(request, who, step, form, problem=problem_text(str(exc)), status=400)
    return RedirectResponse(f"/dashboard/{slug}/tests", status_code=303)


@router.post("/dashboard/{slug}/tests/{test_id}/stop")
async def stop(request: Request, slug: str, test_id: int) -> Response:
    who = await viewer(request, slug, needs="edit")
    runtime = runtime_of(request)
    async with runtime.engine.begin() as conn:
        if not await stop_test(conn, who.store.id, test_id, runtime.clock.now()):
            raise page_error(404, _("no running test {id}").format(id=test_id))
    return RedirectResponse(f"/dashboard/{slug}/tests", status_code=303)
