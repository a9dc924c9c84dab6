#!/usr/bin/env python3
"""Checks the Grafana dashboards and the Prometheus rules beyond what promtool sees.

usage: check-observability.py DASHBOARD_RULES_OUT.yaml

- Every deploy/grafana/*.json parses and is a dashboard Grafana imports anywhere: a current
  schemaVersion, a `datasource` variable of type prometheus, every panel and query on
  `${datasource}` (no hard-coded datasource uid), unique panel ids, each query with an expr.
- Writes every dashboard query, its Grafana variables replaced by plain values, as a recording
  rule to DASHBOARD_RULES_OUT.yaml, so that `promtool check rules` parses each PromQL
  expression (promtool has no command that parses a bare expression).
- Every rule in deploy/prometheus/*.yaml (except *.test.yaml) that alerts has `for:`, a
  `severity` label, `summary` and `description` annotations and a `runbook_url` naming a
  section (`#anchor`) that exists in the Markdown file it points at.

The metric names themselves are checked against a running `pake serve` by
crates/cli/tests/observability.rs.
"""

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# The dashboard is written at Grafana 12's schemaVersion (41). Grafana migrates a dashboard of an
# older schema on import, so one below Grafana 11's (39) would show something other than the
# reviewed file.
MIN_SCHEMA_VERSION = 39
SEVERITIES = {"critical", "warning", "info"}
# Grafana's variables, replaced by something PromQL accepts.
VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
}


def anchors(markdown: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for line in markdown.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^#{1,6}\s+(.*)$", line)
        if heading:
            text = heading[1].strip().lower()
            text = re.sub(r"[^\w\- ]", "", text)
            found.add(text.replace(" ", "-"))
    return found


def panels_of(dashboard: dict):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def check_dashboard(path: Path, problems: list[str], rules: list[dict]) -> int:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    where = path.relative_to(ROOT)
    if not isinstance(dashboard.get("schemaVersion"), int) or dashboard["schemaVersion"] < MIN_SCHEMA_VERSION:
        problems.append(f"{where}: schemaVersion {dashboard.get('schemaVersion')!r} is older than {MIN_SCHEMA_VERSION}")
    for key in ("title", "uid"):
        if not dashboard.get(key):
            problems.append(f"{where}: no {key}")
    variables = dashboard.get("templating", {}).get("list", [])
    source = [v for v in variables if v.get("type") == "datasource"]
    if len(source) != 1 or source[0].get("name") != "datasource" or source[0].get("query") != "prometheus":
        problems.append(f"{where}: needs exactly one datasource variable `datasource` of type prometheus")
    ours = {"type": "prometheus", "uid": "${datasource}"}
    for variable in variables:
        if variable.get("type") == "query" and variable.get("datasource") != ours:
            problems.append(f"{where}: variable {variable.get('name')}: datasource must be {ours}")
    ids = set()
    queries = 0
    for panel in panels_of(dashboard):
        title = panel.get("title", "?")
        if panel.get("id") in ids:
            problems.append(f"{where}: panel id {panel.get('id')} repeated")
        ids.add(panel.get("id"))
        if panel.get("type") == "row":
            continue
        if panel.get("datasource") != ours:
            problems.append(f"{where}: panel {title!r}: datasource must be {ours}, not {panel.get('datasource')}")
        if not panel.get("targets"):
            problems.append(f"{where}: panel {title!r}: no queries")
        for target in panel.get("targets", []):
            if target.get("datasource", ours) != ours:
                problems.append(f"{where}: panel {title!r}: query {target.get('refId')}: hard-coded datasource")
            expr = target.get("expr", "")
            if not expr:
                problems.append(f"{where}: panel {title!r}: query {target.get('refId')} has no expr")
                continue
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            # Dashboard variables ($namespace, ${service}) stand in label matchers: any regex.
            expr = re.sub(r"\$\{?\w+\}?", ".*", expr)
            queries += 1
            rules.append({"record": f"dashboard:query:{queries}", "expr": expr})
    # Every variable's label_values query names a real metric too; parse its selector.
    for variable in variables:
        if variable.get("type") != "query":
            continue
        match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", variable.get("definition", ""))
        if not match:
            problems.append(f"{where}: variable {variable.get('name')}: expected label_values(selector, label)")
            continue
        queries += 1
        rules.append({"record": f"dashboard:query:{queries}", "expr": re.sub(r"\$\{?\w+\}?", ".*", match[1])})
    return queries


def check_rules(path: Path, problems: list[str]) -> int:
    where = path.relative_to(ROOT)
    alerts = 0
    for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            alerts += 1
            name = rule["alert"]
            if not rule.get("for"):
                problems.append(f"{where}: {name}: no `for:`")
            if rule.get("labels", {}).get("severity") not in SEVERITIES:
                problems.append(f"{where}: {name}: severity label must be one of {sorted(SEVERITIES)}")
            annotations = rule.get("annotations", {})
            for key in ("summary", "description", "runbook_url"):
                if not annotations.get(key):
                    problems.append(f"{where}: {name}: no {key} annotation")
            runbook = annotations.get("runbook_url", "")
            document, _, anchor = runbook.partition("#")
            target = ROOT / document
            if not document or not anchor or not target.is_file():
                problems.append(f"{where}: {name}: runbook_url {runbook!r} must be FILE.md#section")
            elif anchor not in anchors(target):
                problems.append(f"{where}: {name}: {document} has no section #{anchor}")
    return alerts


def main() -> int:
    problems: list[str] = []
    rules: list[dict] = []
    for path in sorted((ROOT / "deploy/grafana").glob("*.json")):
        count = check_dashboard(path, problems, rules)
        print(f"  {path.relative_to(ROOT)}: {count} queries")
    for path in sorted((ROOT / "deploy/prometheus").glob("*.yaml")):
        if path.name.endswith(".test.yaml"):
            continue
        count = check_rules(path, problems)
        print(f"  {path.relative_to(ROOT)}: {count} alerts with for, severity, summary, description and an existing runbook section")
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, out, sort_keys=False)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
