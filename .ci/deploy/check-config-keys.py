#!/usr/bin/env python3
"""Checks that the chart only uses configuration PAKE really has.

usage: check-config-keys.py RENDERED.yaml...

For every rendered ConfigMap key `pake.toml` (parsed as TOML) and every PAKE_* environment
variable and `serve` flag of a rendered container, looks the setting up in the Rust sources:
the fields of the config structs in crates/core/src/config*.rs and the flags in
crates/cli/src/args.rs. A key PAKE does not have (renamed, removed, misspelt) fails the run
here, before PAKE would refuse to start on it in a cluster. Pods running PAKE must also turn
off service links, whose PAKE_<SERVICE>_… variables PAKE would read as unknown keys.
"""

import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = {
    "log": "LogConfig", "upstream": "UpstreamConfig", "auth": "AuthConfig",
    "identity": "IdentityConfig", "search": "SearchConfig", "knowledge": "KnowledgeConfig",
    "shutdown": "ShutdownConfig", "edge": "EdgeConfig", "rate_limit": "RateLimitConfig",
    "redis": "RedisConfig", "vault": "VaultConfig", "vault.auth": "VaultAuthConfig",
}
# Environment variables the binary reads that are not config keys.
NON_KEY_ENV = {"PAKE_CONFIG"}


def struct_fields() -> dict[str, set[str]]:
    fields: dict[str, set[str]] = {}
    for path in sorted((ROOT / "crates/core/src").glob("config*.rs")):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"pub struct (\w+) \{(.*?)\n\}", text, re.S):
            fields.setdefault(match[1], set()).update(re.findall(r"^\s*pub (\w+):", match[2], re.M))
    return fields


def flags() -> set[str]:
    text = (ROOT / "crates/cli/src/args.rs").read_text(encoding="utf-8")
    found = set()
    # `#[arg(long = "name", …)]`, or `#[arg(long, …)] pub some_field:` for --some-field.
    for attr, field in re.findall(r"#\[arg\(((?:[^()]|\([^()]*\))*)\)\]\s*pub (\w+):", text):
        named = re.search(r'\blong\s*=\s*"([\w-]+)"', attr)
        if named:
            found.add(named[1])
        elif re.search(r"\blong\b", attr):
            found.add(field.replace("_", "-"))
    return found


def main() -> int:
    fields = struct_fields()
    known_flags = flags()
    problems: list[str] = []
    checked = 0

    def known(path: list[str]) -> bool:
        if len(path) == 1:
            return path[0] in fields.get("Config", set())
        # [section] key, or [section.sub] key (vault.auth.role): each level a field of the
        # struct of the level above.
        struct = "Config"
        for depth, part in enumerate(path):
            if part not in fields.get(struct, set()):
                return False
            if depth < len(path) - 1:
                struct = SECTIONS.get(".".join(path[: depth + 1]), "")
        return True

    for rendered in sys.argv[1:]:
        with open(rendered, encoding="utf-8") as stream:
            docs = [doc for doc in yaml.safe_load_all(stream) if doc]
        for doc in docs:
            if doc.get("kind") == "ConfigMap" and "pake.toml" in doc.get("data", {}):
                config = tomllib.loads(doc["data"]["pake.toml"])
                def walk(table: dict, prefix: list[str]) -> None:
                    nonlocal checked
                    for key, value in table.items():
                        path = prefix + [key]
                        checked += 1
                        if not known(path):
                            problems.append(f"{rendered}: pake.toml key {'.'.join(path)} is not a PAKE setting")
                        elif isinstance(value, dict):
                            walk(value, path)

                walk(config, [])
            if doc.get("kind") not in ("Deployment", "Pod"):
                continue
            spec = doc["spec"]["template"]["spec"] if doc["kind"] == "Deployment" else doc["spec"]
            runs_pake = any(c.get("args", [])[:1] == ["serve"] for c in spec["containers"])
            if runs_pake and spec.get("enableServiceLinks") is not False:
                # Kubernetes would set PAKE_<SERVICE>_SERVICE_HOST etc. for Services named
                # pake-*, which PAKE reads as (unknown) configuration keys and refuses.
                problems.append(f"{rendered}: {doc['metadata']['name']}: enableServiceLinks must be false")
            for container in spec["containers"]:
                for env in container.get("env", []):
                    name = env["name"]
                    if not name.startswith("PAKE_") or name in NON_KEY_ENV:
                        continue
                    checked += 1
                    path = name[len("PAKE_"):].lower().split("__")
                    if not known(path):
                        problems.append(f"{rendered}: {doc['metadata']['name']}: {name} is not a PAKE setting")
                args = container.get("args", [])
                if args[:1] == ["serve"]:
                    for arg in args:
                        if arg.startswith("--"):
                            checked += 1
                            if arg[2:].split("=")[0] not in known_flags:
                                problems.append(f"{rendered}: {doc['metadata']['name']}: {arg} is not a `pake serve` flag")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"configuration: {checked} keys, variables and flags checked against crates/core and crates/cli")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
