"""Turn one validated rule model into a compiled Rule at one site (inputs, values, levels, templates)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from hub.rules.compiler import CompileError, Compiler, InputRef
from hub.rules.expr import ExprError, Node, parse_duration, parse_expr
from hub.rules.levels import as_number, cond, field_error, level_of, levels_expr, levels_table
from hub.rules.model import Level
from hub.rules.ruleset import HAZARD_ZH, HealthRule, Rule, RuleError, RuleSet, Site
from hub.rules.text import TEMPLATE_FIELDS, check_template, per_level

if TYPE_CHECKING:
    from hub.rules.loader import InputModel, RuleModel


def _inputs(model: RuleModel, site: Site, rs: RuleSet, where: str) -> dict[str, InputRef]:
    out: dict[str, InputRef] = {}
    for name, m in model.inputs.items():
        fld = f"inputs.{name}"
        out[name] = _input(name, m, site, rs, where, fld)
    return out


def _input(name: str, m: InputModel, site: Site, rs: RuleSet, where: str, fld: str) -> InputRef:
    forms = [m.sensor is not None, m.sensors is not None, m.forecast is not None]
    if sum(forms) > 1 or (not any(forms) and m.quantity is None):
        raise RuleError(f"{where}: field {fld}: give exactly one of sensor, sensors, quantity or forecast")
    if m.forecast is not None:
        return InputRef(name, (), False, (site.id, m.forecast))
    ids = [m.sensor] if m.sensor is not None else m.sensors
    if ids is not None:
        keys = []
        for sid in ids:
            sid = sid.replace("{site}", site.id)  # site-relative ids let one rule serve many sites
            sensor = rs.sensors.get(sid)
            if sensor is None:
                raise RuleError(f"{where}: field {fld}: unknown sensor {sid!r} (declare it under sensors:)")
            keys.append((sid, m.quantity or sensor.quantity))
        if not keys:
            raise RuleError(f"{where}: field {fld}.sensors: empty list")
        return InputRef(name, tuple(keys), m.sensor is None)
    at = m.sites or [site.id]
    for s in at:
        if s not in rs.sites:
            raise RuleError(f"{where}: field {fld}.sites: unknown site {s!r}")
    keys = [(s.id, s.quantity) for a in at for s in rs.sensors_at(a) if s.quantity == m.quantity]
    if not keys:
        raise RuleError(f"{where}: field {fld}: no sensor measures {m.quantity!r} at {', '.join(at)}")
    return InputRef(name, tuple(keys), True)


def _dur(value: Any, where: str, fld: str) -> float:
    try:
        return parse_duration(value)
    except ExprError as exc:
        raise field_error(where, fld, exc) from None


def _shared_names(model: RuleModel, values: dict[str, Node]) -> frozenset[str]:
    """Named values that more than one place reads (worth computing once per evaluation)."""
    texts = [
        *model.values.values(),
        *(model.levels or {}).values(),
        *model.clear.values(),
        *(model.thresholds or {}),
    ]
    texts += [t for t in (model.extend, model.value) if t]
    blob = " ".join(texts)
    return frozenset(n for n in values if len(re.findall(rf"\b{re.escape(n)}\b", blob)) > 1)


def build_rule(model: RuleModel, site: Site, rs: RuleSet, where: str, file: str) -> Rule:
    where = f"{where} (site {site.id})" if model.sites is None or len(model.sites) > 1 else where
    inputs = _inputs(model, site, rs, where)
    rs.plan.used = set()
    values: dict[str, Node] = {}
    for name, text in model.values.items():
        if name in inputs:
            raise RuleError(f"{where}: field values.{name}: name already used by an input")
        try:
            values[name] = parse_expr(text)
        except ExprError as exc:
            raise field_error(where, f"values.{name}", exc) from None
    comp = Compiler(rs.plan, inputs, values, _shared_names(model, values))
    value_fns = {}
    for name in values:
        try:
            c = comp.named(name)
            value_fns[name] = as_number(c) if c.type != "bool" else c.fn
        except CompileError as exc:
            raise field_error(where, f"values.{name}", exc) from None
    if (model.thresholds is None) == (model.levels is None):
        raise RuleError(f"{where}: field levels: give either thresholds: (a table) or levels: (expressions)")
    extend = None
    if model.thresholds is not None:
        levels, extend, headroom, guard_keys, slope = levels_table(model, comp, where)
    else:
        if model.extend_ratio is not None:
            raise RuleError(f"{where}: field extend_ratio: only for thresholds:; use extend: with levels:")
        levels, headroom, guard_keys, slope = levels_expr(model, comp, where)
    if slope is not None:  # a slope guard watches the one series under its window
        guard_keys = (rs.plan.slots[slope[1]].key,)
    if model.extend is not None:
        f = cond(comp, model.extend, where, "extend")
        extend = lambda W, now, level: f(W, now)  # noqa: E731
    value = None
    if model.value is not None:
        try:
            value = as_number(comp.compile(parse_expr(model.value)))
        except (CompileError, ExprError) as exc:
            raise field_error(where, "value", exc) from None
    elif values:
        value = next((f for n, f in value_fns.items() if comp.done[n].type != "bool"), None)
    fields = TEMPLATE_FIELDS | set(values)
    default_msg = "{site_name}{hazard_zh}{level_zh}预警：{rule}"
    messages = per_level(model.message, default_msg, where, "message")
    for text in messages.values():
        check_template(text, fields, where, "message")
    clear_msg = check_template(
        model.message_clear or "{site_name}{hazard_zh}预警解除", fields, where, "message_clear"
    )
    deps = tuple(dict.fromkeys(k for i in inputs.values() for k in i.keys))
    # The series the compiled expressions actually read: only their readings wake the rule (an input
    # declared but unused, e.g. by a shared inputs: block, must not cost an evaluation per reading).
    plan_slots = rs.plan.slots
    reads = tuple(
        dict.fromkeys(
            plan_slots[j].key
            for j in sorted(rs.plan.used)
            if plan_slots[j].kind in ("window", "fit", "series")
        )
    )
    fdeps = tuple(dict.fromkeys(i.forecast for i in inputs.values() if i.forecast))
    hazard = model.hazard or site.hazard
    labels = {
        "site": site.id,
        "site_name": site.name,
        "grids": ",".join(site.grids),
        "grid": site.grids[0] if site.grids else "",
        "hazard": hazard,
        "hazard_zh": HAZARD_ZH.get(hazard, hazard),
        **model.labels,
    }
    return Rule(
        id=model.id,
        site=site.id,
        hazard=hazard,
        file=file,
        levels=levels,
        deps=deps,
        reads=reads,
        forecast_deps=fdeps,
        values=value_fns,
        value=value,
        extend=extend,
        for_s=_dur(model.for_, where, "for"),
        min_time_s=_dur(model.min_time_at_level, where, "min_time_at_level"),
        clear_for_s=_dur(model.clear_for, where, "clear_for"),
        validity_s=_dur(model.validity, where, "validity") if model.validity is not None else 0.0,
        audience=per_level(model.audience, "officers", where, "audience"),
        actions=per_level({k: v for k, v in model.actions.items()}, "", where, "actions"),
        messages=messages,
        message_clear=clear_msg,
        labels=labels,
        slots=tuple(sorted(rs.plan.used)),
        headroom=headroom,
        guard_keys=guard_keys,
        slope=slope,
    )


def build_health(model: RuleModel, where: str, file: str) -> HealthRule:
    lv = Level(level_of(model.level, where, "level"))
    ranges = {}
    for q, (lo, hi) in model.ranges.items():
        if not lo < hi:
            raise RuleError(f"{where}: field ranges.{q}: low must be below high")
        ranges[q] = (lo, hi)
    stuck = {q: _dur(d, where, f"durations.{q}") for q, d in model.durations.items()}
    if model.kind == "range" and not ranges:
        raise RuleError(f"{where}: field ranges: a range check needs quantity: [low, high]")
    if model.kind == "stuck" and not stuck:
        raise RuleError(f"{where}: field durations: a stuck check needs quantity: duration")
    msg = model.message if isinstance(model.message, str) else ""
    check_template(msg, TEMPLATE_FIELDS, where, "message")
    return HealthRule(
        model.id,
        model.kind,
        file,
        lv,
        model.periods,
        frozenset(model.quantities) if model.quantities else None,
        ranges,
        stuck,
        msg,
    )
