"""deploy/Dockerfile, parsed (no hadolint nor container engine here): pinned bases,
dependencies from the lock file only, an unprivileged user, ``ems`` as entry point,
and a build context that leaves out local state and secrets."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line.strip())
        pending = ""
    assert not pending, "a continuation line runs off the end"
    result = []
    for entry in logical:
        keyword, _, arguments = entry.partition(" ")
        result.append((keyword.upper(), arguments.strip()))
    return result


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, arguments in _instructions():
        if keyword == "FROM":
            stages.append([])
        assert stages, "an instruction before the first FROM"
        stages[-1].append((keyword, arguments))
    return stages


def test_known_instructions_only() -> None:
    known = {"FROM", "RUN", "COPY", "ENV", "WORKDIR", "USER", "VOLUME", "EXPOSE"}
    known |= {"ENTRYPOINT", "CMD", "ARG", "LABEL"}
    assert {k for k, _ in _instructions()} <= known


def test_base_images_are_pinned() -> None:
    for keyword, arguments in _instructions():
        if keyword != "FROM":
            continue
        image = arguments.split()[0]
        _, _, tag = image.rpartition(":")
        assert re.fullmatch(r"\d+\.\d+\.\d+-[a-z-]+", tag), f"{image} is not pinned to a release"


def test_stage_names_used_by_copy_exist() -> None:
    names = {a.split()[-1] for k, a in _instructions() if k == "FROM" and " AS " in a.upper()}
    for keyword, arguments in _instructions():
        if keyword == "COPY" and arguments.startswith("--from="):
            assert arguments.split()[0].removeprefix("--from=") in names


def test_python_dependencies_come_from_the_lock_file_only() -> None:
    runs = [a for k, a in _instructions() if k == "RUN" and "pip install" in a]
    assert any(re.search(r"pip install -r \S*requirements\.lock\b", r) for r in runs)
    # The project itself without resolving anything (everything came pinned above).
    project = [r for r in runs if "requirements.lock" not in r]
    assert project and all("--no-deps" in r for r in project)
    copied = " ".join(a for k, a in _instructions() if k == "COPY")
    assert "requirements.lock" in copied
    assert (ROOT / "requirements.lock").is_file()


def test_the_dashboard_is_built_from_its_lock_file_and_served_by_the_cloud() -> None:
    runs = " ".join(a for k, a in _instructions() if k == "RUN")
    assert "npm ci" in runs and "npm run build" in runs
    assert (ROOT / "web" / "package-lock.json").is_file()
    final = _stages()[-1]
    env = " ".join(a for k, a in final if k == "ENV")
    match = re.search(r"EMS_DASHBOARD_DIR=(\S+)", env)
    assert match
    assert any(k == "COPY" and a.endswith(f"/web/out {match.group(1)}") for k, a in final)


def test_the_runtime_runs_ems_as_an_unprivileged_user() -> None:
    final = _stages()[-1]
    users = [a for k, a in final if k == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert json.loads(next(a for k, a in final if k == "ENTRYPOINT")) == ["ems"]
    env = " ".join(a for k, a in final if k == "ENV")
    assert "EMS_DATA_DIR=/var/lib/ems" in env
    assert json.loads(next(a for k, a in final if k == "VOLUME")) == ["/var/lib/ems"]


def test_copied_sources_exist() -> None:
    for keyword, arguments in _instructions():
        if keyword == "COPY" and not arguments.startswith("--from="):
            for source in arguments.split()[:-1]:
                assert (ROOT / source).exists(), source


def test_the_build_context_leaves_out_state_and_secrets() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "ems-data", "web/node_modules", "deploy/*.env", "*.key"} <= ignored
