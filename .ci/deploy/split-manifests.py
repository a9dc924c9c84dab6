#!/usr/bin/env python3
"""Splits rendered manifests for the validators.

usage: split-manifests.py OUT_DIR LABEL=FILE...

Writes OUT_DIR/k8s-LABEL.yaml with the Kubernetes built-in kinds of FILE (for
kubernetes-validate) and OUT_DIR/crds.json with every custom resource of all FILEs (Istio,
Argo CD, Prometheus Operator; for validate-crds.mjs), each tagged with where it came from. A document of any other
API group fails the run, so nothing goes unvalidated.
"""

import json
import sys
from pathlib import Path

import yaml

CUSTOM_GROUPS = {"security.istio.io", "networking.istio.io", "argoproj.io", "monitoring.coreos.com"}
BUILTIN_GROUPS = {"", "apps", "autoscaling", "policy", "batch", "networking.k8s.io", "rbac.authorization.k8s.io"}


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    custom = []
    problems = []
    for argument in sys.argv[2:]:
        label, _, path = argument.partition("=")
        builtin = []
        with open(path, encoding="utf-8") as stream:
            for index, doc in enumerate(yaml.safe_load_all(stream)):
                if not doc:
                    continue
                api_version = doc.get("apiVersion", "")
                kind = doc.get("kind", "")
                name = (doc.get("metadata") or {}).get("name", "")
                group = api_version.rpartition("/")[0] if "/" in api_version else ""
                source = f"{label}: {kind} {name} (document {index + 1} of {path})"
                if group in CUSTOM_GROUPS:
                    custom.append({"source": source, "doc": doc})
                elif group in BUILTIN_GROUPS:
                    builtin.append(doc)
                else:
                    problems.append(f"{source}: no validator for apiVersion {api_version!r}")
        with open(out / f"k8s-{label}.yaml", "w", encoding="utf-8") as stream:
            yaml.safe_dump_all(builtin, stream, sort_keys=False)
        print(f"{label}: {len(builtin)} built-in documents")
    with open(out / "crds.json", "w", encoding="utf-8") as stream:
        json.dump(custom, stream, indent=1)
    print(f"custom resources: {len(custom)}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
