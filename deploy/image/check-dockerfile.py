#!/usr/bin/env python3
"""Checks that the Dockerfile's runtime image fits the Helm chart and deploy/image/build-rootfs.

usage: check-dockerfile.py DOCKERFILE VALUES.yaml RENDERED.yaml BUILD_ROOTFS

- the final USER is the chart's podSecurityContext runAsUser:runAsGroup, numeric (a name would
  not satisfy the kubelet's runAsNonRoot check), and build-rootfs creates the same user;
- every containerPort of the rendered Deployments is EXPOSEd;
- the rendered PAKE_DATA_DIR is the image's (ENV PAKE_DATA_DIR) and the image creates it for
  that user; the chart's other mounts (/etc/pake, /tmp) exist in the image;
- the chart's image.command finds the binary: the ENTRYPOINT's basename, or its full path;
- the builder builds the `pake` package with --locked;
- the default of ARG VERSION (the version label) is the chart's appVersion, the tag the chart
  pulls when image.tag is empty.
"""

import re
import shlex
import sys
from pathlib import Path

import yaml


def instructions(text):
    """Yields (STAGE_INDEX, INSTRUCTION, ARGUMENTS) with continuation lines joined."""
    stage = -1
    logical = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not logical and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        keyword, _, arguments = logical.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        yield stage, keyword, arguments.strip()
        logical = ""


def main():
    dockerfile, values_path, rendered_path, build_rootfs = sys.argv[1:5]
    problems = []
    parsed = list(instructions(Path(dockerfile).read_text()))
    last = max(stage for stage, _, _ in parsed)
    final = [(keyword, arguments) for stage, keyword, arguments in parsed if stage == last]

    def all_of(keyword):
        return [arguments for name, arguments in final if name == keyword]

    values = yaml.safe_load(Path(values_path).read_text())
    pod = values["podSecurityContext"]
    want_user = f"{pod['runAsUser']}:{pod['runAsGroup']}"
    users = all_of("USER")
    if not users or users[-1] != want_user:
        problems.append(f"USER: the runtime stage must end with USER {want_user} (chart podSecurityContext), "
                        f"got {users[-1:] or 'none'}")
    script = Path(build_rootfs).read_text()
    for variable, want in (("USER_ID", pod["runAsUser"]), ("GROUP_ID", pod["runAsGroup"])):
        if not re.search(rf"^{variable}={want}$", script, re.MULTILINE):
            problems.append(f"{build_rootfs}: {variable} must be {want} (chart podSecurityContext)")

    exposed = {port.split("/")[0] for arguments in all_of("EXPOSE") for port in arguments.split()}
    env = {}
    for arguments in all_of("ENV"):
        for pair in shlex.split(arguments):
            key, _, value = pair.partition("=")
            env[key] = value
    copied = " ".join(all_of("COPY"))
    entrypoint = all_of("ENTRYPOINT")

    ports, data_dirs, mounts, commands = set(), set(), set(), set()
    for document in yaml.safe_load_all(Path(rendered_path).read_text()):
        if not document or document.get("kind") != "Deployment":
            continue
        for container in document["spec"]["template"]["spec"]["containers"]:
            ports.update(str(port["containerPort"]) for port in container.get("ports", []))
            data_dirs.update(item["value"] for item in container.get("env", []) if item["name"] == "PAKE_DATA_DIR")
            mounts.update(mount["mountPath"] for mount in container.get("volumeMounts", []))
            commands.add(tuple(container.get("command", [])))
    if not ports:
        problems.append(f"{rendered_path}: no Deployment with container ports")
    for port in sorted(ports - exposed):
        problems.append(f"EXPOSE: the chart's containerPort {port} is not exposed")
    for data_dir in sorted(data_dirs):
        if env.get("PAKE_DATA_DIR") != data_dir:
            problems.append(f"ENV PAKE_DATA_DIR must be the chart's {data_dir}, got {env.get('PAKE_DATA_DIR')!r}")
        if not re.search(rf"--chown={want_user} \S+ {re.escape(data_dir)}(\s|$)", copied):
            problems.append(f"COPY: the image must create {data_dir} owned by {want_user}")
    for mount in sorted(mounts - data_dirs - {"/tmp"}):
        if not re.search(rf" {re.escape(mount)}(\s|$)", copied):
            problems.append(f"COPY: the chart mounts {mount}; the image must create it")
    if len(entrypoint) != 1:
        problems.append("ENTRYPOINT: expected exactly one")
    else:
        binary = yaml.safe_load(entrypoint[0])[0]
        for command in sorted(commands):
            if not command or command[0] not in (binary, binary.rsplit("/", 1)[-1]):
                problems.append(f"the chart's image.command {list(command)} does not run the image's {binary}")
    chart = yaml.safe_load((Path(values_path).parent / "Chart.yaml").read_text())
    versions = [arguments.partition("=")[2] for arguments in all_of("ARG") if arguments.startswith("VERSION=")]
    if versions != [str(chart["appVersion"])]:
        problems.append(f"ARG VERSION: default must be the chart's appVersion {chart['appVersion']}, got {versions}")
    builds = [arguments for stage, keyword, arguments in parsed if keyword == "RUN" and stage < last]
    if not any(re.search(r"cargo build --release --locked -p pake(\s|$)", run) for run in builds):
        problems.append("RUN: the builder must run `cargo build --release --locked -p pake`")

    for problem in problems:
        print(f"{dockerfile}: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"  {dockerfile}: USER {want_user}, EXPOSE {' '.join(sorted(exposed))}, "
          f"data dir {env.get('PAKE_DATA_DIR')}, ENTRYPOINT {entrypoint[0]}: consistent with the chart")


if __name__ == "__main__":
    main()
