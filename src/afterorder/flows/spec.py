"""Flow files (YAML) → a typed, validated ``FlowSpec`` and its compiled step program.

A bad file is refused at load with the file, the line and what is wrong::

    flows/my-flow.yaml:12: steps[1].wait.duration: '3 dayz' is not a duration; write e.g. 3d, ...
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml

from afterorder.domain import EventType
from afterorder.flows.conditions import Condition, ConditionError, check_field, parse_condition
from afterorder.flows.durations import format_duration, parse_duration
from afterorder.flows.yamlsource import SourceMap, load_with_lines
from afterorder.promotions.coupons import POOL, CouponRequest

Category = Literal["transactional", "marketing"]
Reentry = Literal["once_per_order", "once_per_customer", "once_per_checkout", "always"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class FlowError(ValueError):
    """A flow file is wrong; ``str()`` reads ``file:line: path: problem``."""

    def __init__(self, file: str, line: int | None, path: str, problem: str) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {path}: {problem}" if path else f"{where}: {problem}")
        self.file, self.line, self.path, self.problem = file, line, path, problem


class _Invalid(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(problem)
        self.path, self.problem = path, problem


# ---- the compiled program: a flat list of instructions with jumps ---------------------------


CHANNELS = ("email", "line", "sms")


@dataclass(frozen=True)
class Send:
    template: str
    category: Category
    # the channels to try, in order: the first the customer can receive (and, for marketing, has
    # consent for) carries the message.  Empty: a transactional message follows the store's order,
    # a marketing message goes by email.
    channels: tuple[str, ...]
    label: str
    # promotions (see afterorder.promotions): a coupon issued for this step, N recommended products,
    # and fixed values the template reads as ``params`` (e.g. the name of the person signing)
    coupon: CouponRequest | None = None
    recommendations: int = 0
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class WaitFor:
    duration: timedelta
    label: str


@dataclass(frozen=True)
class WaitUntil:
    at: time
    weekdays: tuple[int, ...]  # 0 = Monday; empty = any day
    label: str


@dataclass(frozen=True)
class WaitUntilDate:
    """Until a date the facts hold (e.g. ``prediction.predicted_next_order``) plus ``offset`` (may be
    negative); without that date, ``fallback`` from the anchor, or straight on when there is none."""

    field: str
    offset: timedelta
    fallback: timedelta | None
    label: str


@dataclass(frozen=True)
class WaitEvent:
    event: EventType
    timeout: timedelta
    on_timeout: Literal["continue", "exit"]
    label: str


@dataclass(frozen=True)
class Branch:
    """If the condition is false, jump to ``otherwise``."""

    condition: Condition
    otherwise: int
    label: str


@dataclass(frozen=True)
class Jump:
    target: int
    label: str


@dataclass(frozen=True)
class Exit:
    reason: str
    label: str


Instruction = Send | WaitFor | WaitUntil | WaitUntilDate | WaitEvent | Branch | Jump | Exit


@dataclass(frozen=True)
class Trigger:
    event: EventType
    condition: Condition | None


@dataclass(frozen=True)
class FlowSpec:
    id: str
    name: str
    description: str
    category: str
    subject: Literal["order", "customer"]
    trigger: Trigger
    reentry: Reentry
    exit_on: tuple[EventType, ...]
    program: tuple[Instruction, ...]
    enabled_by_default: bool
    version: str
    source: str
    file: str

    def step_conditions(self) -> list[Condition]:
        """The conditions of the ``if`` steps, asked while a run advances."""
        return [i.condition for i in self.program if isinstance(i, Branch)]


# ---- parsing ------------------------------------------------------------------------------


def _mapping(raw: Any, path: str, allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    if not isinstance(raw, dict):
        raise _Invalid(path, "expected a mapping")
    unknown = set(raw) - allowed
    if unknown:
        raise _Invalid(f"{path}.{sorted(unknown)[0]}" if path else sorted(unknown)[0],
                       f"unknown key; expected one of {', '.join(sorted(allowed))}")
    for key in sorted(required - set(raw)):
        raise _Invalid(path, f"missing required key '{key}'")
    return raw


def _event_type(raw: Any, path: str) -> EventType:
    try:
        return EventType(raw)
    except ValueError:
        raise _Invalid(path, f"unknown event type {raw!r}; known: {', '.join(e.value for e in EventType)}") from None


def _duration(raw: Any, path: str) -> timedelta:
    try:
        return parse_duration(raw)
    except (ValueError, TypeError) as exc:
        raise _Invalid(path, str(exc)) from None


def _condition(raw: Any, path: str) -> Condition:
    try:
        return parse_condition(raw, path)
    except ConditionError as exc:
        raise _Invalid(exc.path, exc.problem) from None


def _signed_duration(raw: Any, path: str) -> timedelta:
    text = str(raw).strip()
    negative = text.startswith("-")
    delta = _duration(text.lstrip("+-").strip(), path)
    return -delta if negative else delta


def _until(raw: Any, path: str) -> tuple[time, tuple[int, ...]]:
    if isinstance(raw, str):
        raw = {"time": raw}
    spec = _mapping(raw, path, {"time", "weekday", "weekdays"}, {"time"})
    try:
        hour, minute = (int(x) for x in str(spec["time"]).split(":"))
        at = time(hour, minute)
    except ValueError:
        raise _Invalid(f"{path}.time", f"{spec['time']!r} is not a time of day; write e.g. 10:00") from None
    days_raw = spec.get("weekdays", spec.get("weekday", []))
    days_list = [days_raw] if isinstance(days_raw, str) else list(days_raw)
    days = []
    for day in days_list:
        key = str(day).lower()[:3]
        if key not in WEEKDAYS:
            raise _Invalid(f"{path}.weekday", f"{day!r} is not a weekday; use mon..sun")
        days.append(WEEKDAYS.index(key))
    return at, tuple(sorted(days))


def _coupon(raw: Any, path: str) -> CouponRequest:
    """``{pool: NAME}`` or ``{generate: {prefix: WELCOME, percent: 10 | amount: 500, valid: 30d}}``."""
    spec = _mapping(raw, path, {"pool", "generate"})
    if len(spec) != 1:
        raise _Invalid(path, "a coupon is exactly one of: pool, generate")
    if "pool" in spec:
        if not isinstance(spec["pool"], str) or not POOL.fullmatch(spec["pool"]):
            raise _Invalid(f"{path}.pool", "a pool name: lower-case letters, digits, '-' and '_'")
        return CouponRequest(pool=spec["pool"])
    here = f"{path}.generate"
    gen = _mapping(spec["generate"], here, {"prefix", "percent", "amount", "valid"})
    prefix = str(gen.get("prefix", ""))
    if prefix and (not prefix.isascii() or not prefix.replace("-", "").isalnum() or len(prefix) > 20):
        raise _Invalid(f"{here}.prefix", "use at most 20 letters, digits and '-'")
    if ("percent" in gen) == ("amount" in gen):
        raise _Invalid(here, "give exactly one of: percent, amount")
    percent = gen.get("percent")
    if percent is not None and (isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100):
        raise _Invalid(f"{here}.percent", "expected a whole number from 1 to 100")
    amount = gen.get("amount")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0):
        raise _Invalid(f"{here}.amount", "expected a positive amount in the store's currency")
    valid = _duration(gen["valid"], f"{here}.valid") if "valid" in gen else None
    return CouponRequest(prefix=prefix, percent=percent,
                         amount=Decimal(str(amount)) if amount is not None else None, valid=valid)


class _Compiler:
    def __init__(self) -> None:
        self.program: list[Instruction | None] = []

    def steps(self, raw: Any, path: str) -> None:
        if not isinstance(raw, list) or not raw:
            raise _Invalid(path, "expected a non-empty list of steps")
        for index, step in enumerate(raw):
            self.step(step, f"{path}[{index}]")

    def step(self, raw: Any, path: str) -> None:
        kinds = {"wait", "send", "if", "exit"}
        if not isinstance(raw, dict) or len(set(raw) & kinds) != 1:
            raise _Invalid(path, "a step is exactly one of: wait, send, if, exit")
        kind = next(iter(set(raw) & kinds))
        if kind == "if":
            _mapping(raw, path, {"if", "then", "else", "name"}, {"then"})
            condition = _condition(raw["if"], f"{path}.if")
            branch_at = len(self.program)
            self.program.append(None)
            self.steps(raw["then"], f"{path}.then")
            if "else" in raw:
                jump_at = len(self.program)
                self.program.append(None)
                else_start = len(self.program)
                self.steps(raw["else"], f"{path}.else")
                self.program[jump_at] = Jump(len(self.program), "end of if")
            else:
                else_start = len(self.program)
            self.program[branch_at] = Branch(condition, else_start, raw.get("name") or "if")
            return
        _mapping(raw, path, {kind, "name"})
        body, here = raw[kind], f"{path}.{kind}"
        name = raw.get("name")
        if kind == "send":
            spec = _mapping(body, here, {"template", "category", "channel", "channels", "coupon", "recommendations",
                                         "params"}, {"template", "category"})
            if spec["category"] not in ("transactional", "marketing"):
                raise _Invalid(f"{here}.category", "must be 'transactional' or 'marketing'")
            channels = _channels(spec, here)
            coupon = _coupon(spec["coupon"], f"{here}.coupon") if "coupon" in spec else None
            count = spec.get("recommendations", 0)
            if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 12:
                raise _Invalid(f"{here}.recommendations", "expected a number of products from 0 to 12")
            if (coupon or count) and spec["category"] != "marketing":
                raise _Invalid(f"{here}.{'coupon' if coupon else 'recommendations'}",
                               "coupons and recommendations are promotions: only in a marketing message")
            params = spec.get("params", {})
            if not isinstance(params, dict) or not all(
                    isinstance(k, str) and isinstance(v, str | int | float) for k, v in params.items()):
                raise _Invalid(f"{here}.params", "expected a mapping of names to text")
            self.program.append(Send(str(spec["template"]), spec["category"], channels,
                                     name or f"send {spec['template']}", coupon, count,
                                     tuple((k, str(v)) for k, v in sorted(params.items()))))
        elif kind == "exit":
            self.program.append(Exit(str(body or "exit step"), name or "exit"))
        else:
            if not isinstance(body, dict):
                body = {"duration": body}
            spec = _mapping(body, here, {"duration", "until", "for_event", "timeout", "on_timeout", "until_date",
                                         "offset", "otherwise"})
            if sum(k in spec for k in ("duration", "until", "for_event", "until_date")) != 1:
                raise _Invalid(here, "a wait has exactly one of: duration, until, until_date, for_event")
            if "until_date" in spec:
                field = spec["until_date"]
                try:
                    check_field(field, f"{here}.until_date")
                except ConditionError as exc:
                    raise _Invalid(exc.path, exc.problem) from None
                offset = _signed_duration(spec.get("offset", "0s"), f"{here}.offset")
                fallback = _duration(spec["otherwise"], f"{here}.otherwise") if "otherwise" in spec else None
                shown = ("" if not offset else f" {'-' if offset < timedelta(0) else '+'} "
                         f"{format_duration(abs(offset))}")
                self.program.append(WaitUntilDate(field, offset, fallback, name or f"wait until {field}{shown}"))
            elif "duration" in spec:
                delta = _duration(spec["duration"], f"{here}.duration")
                self.program.append(WaitFor(delta, name or f"wait {format_duration(delta)}"))
            elif "until" in spec:
                at, days = _until(spec["until"], f"{here}.until")
                label = f"wait until {at:%H:%M}" + (f" ({','.join(WEEKDAYS[d] for d in days)})" if days else "")
                self.program.append(WaitUntil(at, days, name or label))
            else:
                event = _event_type(spec["for_event"], f"{here}.for_event")
                if "timeout" not in spec:
                    raise _Invalid(here, "waiting for an event needs a timeout, e.g. timeout: 10d")
                timeout = _duration(spec["timeout"], f"{here}.timeout")
                on_timeout = spec.get("on_timeout", "continue")
                if on_timeout not in ("continue", "exit"):
                    raise _Invalid(f"{here}.on_timeout", "must be 'continue' or 'exit'")
                self.program.append(WaitEvent(event, timeout, on_timeout,
                                              name or f"wait for {event.value} (≤ {format_duration(timeout)})"))


TOP_KEYS = {"id", "name", "description", "category", "subject", "trigger", "reentry", "exit_on", "steps",
            "enabled_by_default"}


def parse_flow(text: str, file: str = "<flow>") -> FlowSpec:
    try:
        raw, source = load_with_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = " ".join(filter(None, [getattr(exc, "context", None), getattr(exc, "problem", None)])) or str(exc)
        raise FlowError(file, mark.line + 1 if mark else None, "", f"not valid YAML: {problem}") from None
    try:
        return _parse(raw, text, file)
    except _Invalid as exc:
        raise FlowError(file, _line(source, exc.path), exc.path, exc.problem) from None


def _line(source: SourceMap, path: str) -> int | None:
    return source.line_of(path)


def _parse(raw: Any, text: str, file: str) -> FlowSpec:
    doc = _mapping(raw, "", TOP_KEYS, {"id", "trigger", "steps"})
    flow_id = doc["id"]
    if not isinstance(flow_id, str) or not flow_id.replace("-", "").isalnum() or len(flow_id) > 64:
        raise _Invalid("id", "use letters, digits and '-' (at most 64)")
    trig_raw = doc["trigger"]
    if isinstance(trig_raw, str):
        trig_raw = {"event": trig_raw}
    trig = _mapping(trig_raw, "trigger", {"event", "conditions"}, {"event"})
    trigger = Trigger(
        _event_type(trig["event"], "trigger.event"),
        _condition(trig["conditions"], "trigger.conditions") if "conditions" in trig else None,
    )
    subject = doc.get("subject", "order" if trigger.event.is_order_event else "customer")
    if subject not in ("order", "customer"):
        raise _Invalid("subject", "must be 'order' or 'customer'")
    if subject == "order" and not trigger.event.is_order_event:
        raise _Invalid("subject", f"a per-order flow needs an order event trigger, not {trigger.event.value}")
    reentry = doc.get("reentry", "once_per_order" if subject == "order" else "once_per_customer")
    if reentry not in ("once_per_order", "once_per_customer", "once_per_checkout", "always"):
        raise _Invalid("reentry", "must be once_per_order, once_per_customer, once_per_checkout or always")
    if reentry == "once_per_checkout" and not trigger.event.is_checkout_event:
        raise _Invalid("reentry", f"once_per_checkout needs a checkout event trigger, not {trigger.event.value}")
    exit_raw = doc.get("exit_on", [])
    if not isinstance(exit_raw, list):
        raise _Invalid("exit_on", "expected a list of event types")
    exit_on = tuple(_event_type(e, f"exit_on[{i}]") for i, e in enumerate(exit_raw))
    compiler = _Compiler()
    compiler.steps(doc["steps"], "steps")
    program = tuple(i for i in compiler.program if i is not None)
    return FlowSpec(
        id=flow_id,
        name=str(doc.get("name", flow_id)),
        description=str(doc.get("description", "")),
        category=str(doc.get("category", "post-purchase")),
        subject=subject,
        trigger=trigger,
        reentry=reentry,
        exit_on=exit_on,
        program=program,
        enabled_by_default=bool(doc.get("enabled_by_default", False)),
        version=hashlib.sha256(text.encode()).hexdigest()[:12],
        source=text,
        file=file,
    )


def load_flow_file(path: Path) -> FlowSpec:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowError(str(path), None, "", f"cannot read: {exc}") from None
    return parse_flow(text, str(path))


def _channels(spec: dict[str, Any], here: str) -> tuple[str, ...]:
    """``channel: line`` or ``channels: [line, email]`` (not both), each a known channel, none twice."""
    if "channel" in spec and "channels" in spec:
        raise _Invalid(f"{here}.channels", "give either channel (one) or channels (an ordered list), not both")
    if "channel" in spec:
        named, where = [spec["channel"]], f"{here}.channel"
    elif "channels" in spec:
        named, where = spec["channels"], f"{here}.channels"
        if not isinstance(named, list) or not named:
            raise _Invalid(where, "expected a list of channels in order of preference, e.g. [line, email]")
    else:
        return ()
    for value in named:
        if value not in CHANNELS:
            raise _Invalid(where, f"unknown channel {value!r}; channels: {', '.join(CHANNELS)}")
    if len(set(named)) != len(named):
        raise _Invalid(where, "a channel is named twice")
    return tuple(str(v) for v in named)
