"""The Grafana dashboard (deploy/grafana/modelyard.json, issue 18) against the metrics the code
exports: a panel over a renamed or removed metric, or grouped by a label the metric lacks, shows
"No data" in Grafana and says nothing, so it fails here instead.

What the code exports is read from the registries themselves (ProxyMetrics and the supervisor's
Metrics, each with its own): every labelled metric is given one child, and the series names and
labels come from `collect()`, so the `_total`, `_bucket`/`le`, `_sum`, `_count` and `_created`
series are exactly those prometheus_client writes on /metrics. The queries are read by a small
PromQL tokenizer: enough for selectors, matchers, `by`/`on` lists and function names, which is
all a reference check needs.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase

from proxy.metrics import ProxyMetrics
from supervisor.costs import KINDS
from supervisor.metrics import Metrics
from supervisor.states import State

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "modelyard.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GRID_COLUMNS = 24

# Labels Prometheus adds to every scraped series; the code never registers them.
TARGET_LABELS = frozenset({"job", "instance"})
# Label values the code enumerates: a matcher on any other value matches nothing, ever.
KNOWN_VALUES: dict[str, frozenset[str]] = {
    "state": frozenset(str(s) for s in State),
    "kind": frozenset(KINDS),
}
GRAFANA_VARIABLES = frozenset({"__rate_interval", "__interval", "__range", "__range_s", "__all"})

AGGREGATIONS = frozenset(
    {"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk", "bottomk"}
    | {"quantile", "count_values"}
)
FUNCTIONS = frozenset(
    {"rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets"}
    | {"histogram_quantile", "vector", "scalar", "abs", "clamp", "clamp_min", "clamp_max"}
    | {"round", "ceil", "floor", "sort", "sort_desc", "label_replace", "label_join", "time"}
    | {"absent", "max_over_time", "min_over_time", "avg_over_time", "last_over_time"}
)
GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2"}) | GROUPING

TOKEN = re.compile(
    r"""(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    |(?P<num>0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
    |(?P<op>=~|!~|!=|==|>=|<=|[-+*/%^(){}\[\],=<>])
    |(?P<space>\s+)""",
    re.VERBOSE,
)
VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


# -- what the code exports ------------------------------------------------------------------


@dataclass(frozen=True)
class Exported:
    series: dict[str, frozenset[str]]  # series name as scraped -> its label names
    family: dict[str, str]  # series name -> the metric family that writes it


def _one_child_each(owner: object) -> None:
    """One child per labelled metric, so that collect() writes its series: a labelled metric
    with no child writes none. prometheus_client keeps the label names only in `_labelnames`."""
    for wrapper in vars(owner).values():
        if isinstance(wrapper, MetricWrapperBase) and wrapper._labelnames:
            wrapper.labels(*["x"] * len(wrapper._labelnames))


def exported() -> Exported:
    series: dict[str, set[str]] = {}
    family: dict[str, str] = {}
    for owner in (ProxyMetrics(), Metrics()):
        _one_child_each(owner)
        for metric in owner.registry.collect():
            # A family registered other than as an attribute gets no child above: fail
            # rather than let its series escape the check.
            assert metric.samples, f"{metric.name} is registered but wrote no series"
            for sample in metric.samples:
                series.setdefault(sample.name, set()).update(sample.labels)
                family[sample.name] = metric.name
    return Exported({k: frozenset(v) for k, v in series.items()}, family)


EXPORTED = exported()


# -- what a query refers to -----------------------------------------------------------------


@dataclass
class Selector:
    name: str
    matchers: list[tuple[str, str, str]] = field(default_factory=list)  # label, op, value


@dataclass
class References:
    selectors: list[Selector] = field(default_factory=list)
    grouping: set[str] = field(default_factory=set)
    aggregated: bool = False
    unknown: list[str] = field(default_factory=list)


def _tokens(expr: str) -> list[tuple[str, str]]:
    """(kind, text) pairs, spaces dropped; Grafana's variables stand in as a number (inside a
    string they are part of the string)."""
    expr = VARIABLE.sub("1", expr)
    result, pos = [], 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if m is None:
            raise ValueError(f"cannot read {expr[pos:]!r} in {expr!r}")
        pos = m.end()
        if m.lastgroup != "space":
            assert m.lastgroup is not None
            result.append((m.lastgroup, m.group()))
    return result


def _until(tokens: list[tuple[str, str]], i: int, close: str) -> tuple[list[str], int]:
    """The token texts after tokens[i] (an opening bracket) up to `close`, and the index past it."""
    inner: list[str] = []
    i += 1
    while tokens[i][1] != close:
        inner.append(tokens[i][1])
        i += 1
    return inner, i + 1


def _matchers(inner: list[str]) -> list[tuple[str, str, str]]:
    parts = [t for t in inner if t != ","]
    return [(parts[k], parts[k + 1], parts[k + 2][1:-1]) for k in range(0, len(parts), 3)]


def references(expr: str) -> References:
    refs = References()
    tokens = _tokens(expr)
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        after = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if text == "[":  # a range or a subquery's window: nothing to check
            i = _until(tokens, i, "]")[1]
        elif kind == "ident" and text in GROUPING and after == "(":
            labels, i = _until(tokens, i + 1, ")")
            refs.grouping.update(t for t in labels if t != ",")
        elif kind == "ident" and (text in AGGREGATIONS or text in FUNCTIONS):
            refs.aggregated |= text in AGGREGATIONS
            i += 1
        elif kind == "ident" and after == "(":
            refs.unknown.append(f"{text}()")
            i += 1
        elif kind == "ident" and text not in KEYWORDS:
            selector = Selector(text)
            i += 1
            if after == "{":
                inner, i = _until(tokens, i, "}")
                selector.matchers = _matchers(inner)
            refs.selectors.append(selector)
        elif text == "{":
            refs.unknown.append("a selector without a metric name")
            i = _until(tokens, i, "}")[1]
        else:
            i += 1
    return refs


def _value_problem(label: str, op: str, value: str) -> str | None:
    known = KNOWN_VALUES.get(label)
    if known is None or op not in ("=", "!=", "=~", "!~"):
        return None
    if op in ("=~", "!~") and not re.fullmatch(r"[\w|]+", value):
        return None  # a real regular expression: not a list of values to check
    wrong = [v for v in value.split("|") if v not in known]
    return (
        f"{label}{op}{value!r}: no series has {label} {wrong} (known: {sorted(known)})"
        if wrong
        else None
    )


def problems(expr: str, legend: str = "", exported: Exported = EXPORTED) -> list[str]:
    """Why `expr` (with its legend) would show no data or the wrong series; empty when sound."""
    refs = references(expr)
    found = [f"unknown function or selector: {u}" for u in refs.unknown]
    if not refs.selectors:
        found.append("no metric queried")
    label_sets = []
    for s in refs.selectors:
        if s.name not in exported.series:
            near = difflib.get_close_matches(s.name, exported.series, n=1)
            found.append(
                f"{s.name}: no such series" + (f" (did you mean {near[0]}?)" if near else "")
            )
            continue
        labels = exported.series[s.name] | TARGET_LABELS
        label_sets.append((s.name, labels))
        for label, op, value in s.matchers:
            if label not in labels:
                found.append(f"{s.name}{{{label}{op}...}}: {s.name} has no label {label}")
            elif (wrong := _value_problem(label, op, value)) is not None:
                found.append(f"{s.name}: {wrong}")
    wanted = [(label, "by/on") for label in refs.grouping]
    if legend != "__auto":
        wanted += [(label, "legend") for label in LEGEND_LABEL.findall(legend)]
        if refs.aggregated:
            found += [
                f"legend {{{{{label}}}}}: aggregated away (not in by: {sorted(refs.grouping)})"
                for label in LEGEND_LABEL.findall(legend)
                if label not in refs.grouping
            ]
    for label, where in wanted:
        found += [
            f"{where} {label}: {name} has no such label"
            for name, ls in label_sets
            if label not in ls
        ]
    return found


# -- the dashboard --------------------------------------------------------------------------


def load() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row keeps its panels inside


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(where, expr, legendFormat) for every panel target."""
    for panel in all_panels(dashboard):
        for t in panel.get("targets", []):
            where = f"panel {panel['id']} {panel['title']!r} target {t.get('refId')}"
            yield where, t.get("expr", ""), t.get("legendFormat", "")


def variable_query(variable: dict[str, Any]) -> str:
    q = variable.get("query", "")
    return str(q["query"] if isinstance(q, dict) else q)


def template_problems(dashboard: dict[str, Any], exported: Exported = EXPORTED) -> list[str]:
    found = []
    for v in dashboard["templating"]["list"]:
        if v["type"] != "query":
            continue
        q = variable_query(v)
        m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", q)
        if m is None:
            found += [f"${v['name']}: {p}" for p in problems(q, exported=exported)]
            continue
        found += [f"${v['name']}: {p}" for p in problems(m[1], exported=exported)]
        refs = references(m[1])
        for s in refs.selectors:
            if s.name in exported.series and m[2] not in exported.series[s.name] | TARGET_LABELS:
                found.append(f"${v['name']}: {s.name} has no label {m[2]}")
    return found


DASH = load()
QUERIES = list(queries(DASH))


@pytest.mark.parametrize(("where", "expr", "legend"), QUERIES, ids=[q[0] for q in QUERIES])
def test_every_panel_query_names_exported_metrics_and_their_labels(
    where: str, expr: str, legend: str
) -> None:
    assert problems(expr, legend) == [], f"{where}: {expr}"


def test_template_variables_query_exported_metrics_and_labels() -> None:
    assert template_problems(DASH) == []


def test_every_exported_metric_has_a_panel() -> None:
    """A metric added to the code shows up nowhere until someone draws it: say so here."""
    used = {
        EXPORTED.family[s.name]
        for _, expr, _ in QUERIES
        for s in references(expr).selectors
        if s.name in EXPORTED.family
    }
    assert set(EXPORTED.family.values()) - used == set()


def test_the_dashboard_is_a_valid_grafana_dashboard() -> None:
    assert DASH["title"] and DASH["uid"] and len(DASH["uid"]) <= 40
    assert isinstance(DASH["schemaVersion"], int) and DASH["schemaVersion"] >= 39
    assert DASH["id"] is None  # Grafana assigns it; a fixed id would overwrite another's
    panels = list(all_panels(DASH))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in panels:
        pos = p["gridPos"]
        assert (
            pos["w"] > 0 and pos["h"] > 0 and pos["x"] >= 0 and pos["x"] + pos["w"] <= GRID_COLUMNS
        )
        if p["type"] == "row":
            assert p["collapsed"] or p["panels"] == [], "an open row's panels follow it"
            continue
        assert p["datasource"] == DATASOURCE, f"panel {p['id']}: datasource"
        assert p["targets"], f"panel {p['id']}: no targets"
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), f"panel {p['id']}: refIds repeat"
        for t in p["targets"]:
            assert t["expr"].strip(), f"panel {p['id']} {t['refId']}: empty expr"
            assert t.get("datasource", DATASOURCE) == DATASOURCE


def test_panels_do_not_overlap() -> None:
    cells: dict[tuple[int, int], int] = {}
    for p in DASH["panels"]:
        pos = p["gridPos"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"panels {cells[(x, y)]} and {p['id']} overlap"
                cells[(x, y)] = p["id"]


def test_it_imports_into_any_grafana_through_a_datasource_variable() -> None:
    """No datasource uid of ours: the importer picks a Prometheus, by the UI or provisioning."""
    variables = {v["name"]: v for v in DASH["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    text = json.dumps(DASH)
    used = {a or b for a, b in VARIABLE.findall(text)}
    assert used - GRAFANA_VARIABLES - set(variables) == set(), "a $variable nobody defines"
    for v in variables.values():
        if v["type"] == "query":
            assert v["datasource"] == DATASOURCE


# -- the checker itself: each mistake it exists for is caught ------------------------------


@pytest.mark.parametrize(
    ("expr", "legend"),
    [
        ("sum by (server) (rate(modelyard_atempts_total[5m]))", "{{server}}"),  # a typo
        ("sum(modelyard_attempts)", ""),  # the family name, not a series Prometheus stores
        ("modelyard_load_seconds_buckets", ""),  # a wrong suffix
        ("sum by (servr) (rate(modelyard_attempts_total[5m]))", ""),  # a wrong by label
        ('modelyard_memory_used_bytes{server="a"}', ""),  # a label of another metric
        ('sum(modelyard_server_state{state="raedy"})', ""),  # a state that never is
        ("sum(rate(modelyard_attempts_total[5m]))", "{{server}}"),  # summed away
        ("max by (server) (modelyard_switch_seconds) / modelyard_memory_total_bytes", ""),
        ("sumx(modelyard_queue_length)", ""),  # no such function
    ],
)
def test_the_check_catches(expr: str, legend: str) -> None:
    assert problems(expr, legend) != []


def test_the_check_catches_a_typo_in_the_dashboard_itself() -> None:
    broken = copy.deepcopy(DASH)
    target = next(p for p in broken["panels"] if p["type"] == "timeseries")["targets"][0]
    target["expr"] = target["expr"].replace("modelyard_", "modelyrd_", 1)
    assert any(problems(e, legend) for _, e, legend in queries(broken))
    variable = next(v for v in broken["templating"]["list"] if v["type"] == "query")
    variable["query"]["query"] = variable_query(variable).replace(", server)", ", srv)")
    assert template_problems(broken) != []
