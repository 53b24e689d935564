"""A/B tests: start one on a flow's send step (variant B's subject per locale and/or its own message,
the split, the metric, the confidence and the minimum sample), see each variant's results with the
significance test, and stop one.  The winner is recorded by the workers (``abtests.results.settle``)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from afterorder.abtests.model import CONFIDENCES, METRICS, MIN_SAMPLE_FLOOR, AbTestError, Variant, variant_template
from afterorder.abtests.records import start_test, stop_test, tests_of
from afterorder.analytics.abtests import AbTestResults, results_of
from afterorder.analytics.metrics import percent
from afterorder.content.overrides import TemplateDraftError, check_variant
from afterorder.flows.spec import FlowSpec, Send
from afterorder.web.dashboard.access import Viewer, page_error, render, runtime_of, viewer

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

    @property
    def label(self) -> str:
        return f"{self.flow.name} · step {self.index + 1}: {self.send.template}"


def send_steps(request: Request, who: Viewer) -> list[SendStep]:
    specs = runtime_of(request).catalog.flows_for(who.store.slug)
    return [SendStep(spec, i, step) for spec in sorted(specs.values(), key=lambda s: s.id)
            for i, step in enumerate(spec.program) if isinstance(step, Send)]


def _step(request: Request, who: Viewer, key: str) -> SendStep:
    found = next((s for s in send_steps(request, who) if s.key == key), None)
    if found is None:
        raise page_error(404, f"step: no send step {key!r} in this store's flows")
    return found


@router.get("/dashboard/{slug}/tests")
async def tests_page(request: Request, slug: str) -> Response:
    who = await viewer(request, slug)
    runtime = runtime_of(request)
    results: list[tuple[AbTestResults, object]] = []
    async with runtime.engine.connect() as conn:
        for test, started, _decided in await tests_of(conn, who.store.id):
            results.append((await results_of(conn, test, started), started))
    return render(request, who, "abtests.html", title="A/B tests", results=results, steps=send_steps(request, who),
                  percent=percent)


async def _form(request: Request, who: Viewer, step: SendStep, form: dict[str, str], problem: str = "",
                status: int = 200) -> Response:
    runtime = runtime_of(request)
    async with runtime.engine.connect() as conn:
        renderer = await runtime.renderers.for_store(conn, who.store.id)
    locales = renderer.locales_for(step.send.template)
    sources = {loc: form.get(f"source_{loc}") or renderer.source(step.send.template, loc) for loc in locales}
    return render(request, who, "abtest_new.html", title="New A/B test", step=step, locales=locales,
                  sources=sources, form=form, problem=problem, metrics=METRICS, confidences=CONFIDENCES,
                  min_floor=MIN_SAMPLE_FLOOR, default_min=DEFAULT_MIN_SAMPLE, status=status)


@router.get("/dashboard/{slug}/tests/new")
async def new_test_page(request: Request, slug: str) -> Response:
    who = await viewer(request, slug)
    if not who.may_edit:
        raise page_error(403, f"a {who.role.value} of {slug} cannot start a test")
    return await _form(request, who, _step(request, who, request.query_params.get("step", "")), {})


def _whole(form: dict[str, str], name: str, low: int, high: int) -> int:
    text = form.get(name, "").strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise AbTestError(f"{name}: a whole number from {low} to {high}")
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
            raise AbTestError("confidence: one of 0.9, 0.95, 0.99") from None
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
        return await _form(request, who, step, form, problem=str(exc), status=400)
    return RedirectResponse(f"/dashboard/{slug}/tests", status_code=303)


@router.post("/dashboard/{slug}/tests/{test_id}/stop")
async def stop(request: Request, slug: str, test_id: int) -> Response:
    who = await viewer(request, slug, needs="edit")
    runtime = runtime_of(request)
    async with runtime.engine.begin() as conn:
        if not await stop_test(conn, who.store.id, test_id, runtime.clock.now()):
            raise page_error(404, f"no running test {test_id}")
    return RedirectResponse(f"/dashboard/{slug}/tests", status_code=303)
