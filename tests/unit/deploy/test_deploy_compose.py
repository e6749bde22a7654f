"""deploy/compose.yaml and its env files, checked structurally (no container engine here).

Every service has a health check and a pinned image; every ``ems`` command line
parses with the real ``ems`` parser (so its subcommands and flags exist); health
checks ask the port the service listens on; the env files name settings that
exist and hold no secrets.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ems.cli import build_parser
from ems.cloud.settings import CloudSettings

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
EMS_IMAGE = "ems:0.1.0"
#: Variables read outside CloudSettings: the auth service's, the dashboard's, uvicorn's.
OTHER_SETTINGS = {
    "EMS_ALLOWED_HOSTS",
    "EMS_CSRF_TRUSTED_ORIGINS",
    "EMS_AUTH_SECURE_COOKIES",
    "EMS_DASHBOARD_DIR",
    "FORWARDED_ALLOW_IPS",
}


def _compose() -> dict[str, Any]:
    document = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(document, dict)
    return document


def _services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _env_file(name: str) -> dict[str, str]:
    pairs = {}
    for line in (DEPLOY / name).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{name}: {line!r} is not NAME=value"
            pairs[key] = value
    return pairs


def test_the_cloud_side_is_all_there() -> None:
    assert set(_services()) == {"postgres", "redis", "auth", "cloud", "dashboard"}
    assert set(_compose()["volumes"]) >= {"postgres-data", "redis-data", "auth-data", "cloud-data"}


@pytest.mark.parametrize("name", ["postgres", "redis", "auth", "cloud", "dashboard"])
def test_every_service_has_a_health_check_and_a_pinned_image(name: str) -> None:
    service = _services()[name]
    check = service["healthcheck"]
    assert check["test"][0] in {"CMD", "CMD-SHELL"}
    assert {"interval", "timeout", "retries"} <= set(check)
    image = service["image"]
    repository, _, tag = image.rpartition(":")
    assert repository, f"{name}: image {image!r} has no tag"
    assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image!r} is not pinned"
    assert service["restart"] == "unless-stopped"


def test_only_the_proxy_publishes_a_port() -> None:
    published = {name for name, s in _services().items() if s.get("ports")}
    assert published == {"dashboard"}


def test_dependencies_wait_for_health() -> None:
    for name, service in _services().items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in _services(), f"{name} depends on unknown {dependency}"
            assert condition == {"condition": "service_healthy"}


def _ems_command(name: str) -> list[str]:
    service = _services()[name]
    assert service["image"] == EMS_IMAGE
    assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    command = service["command"]
    assert all(isinstance(arg, str) for arg in command)
    return list(command)


@pytest.mark.parametrize(("name", "subcommand"), [("auth", "auth"), ("cloud", "cloud")])
def test_ems_commands_parse_with_the_real_parser(name: str, subcommand: str) -> None:
    args = build_parser().parse_args(_ems_command(name))  # exits on an unknown flag
    assert args.command == subcommand
    assert args.host == "0.0.0.0"  # reachable from the other containers


def test_ems_command_help_runs(tmp_path: Path) -> None:
    """The image's entry point is ``ems``: the same subcommand answers ``--help``."""
    import sys

    for argv in (["auth", "serve"], ["cloud"]):
        done = subprocess.run(
            [sys.executable, "-m", "ems.cli", *argv, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        assert "--host" in done.stdout and "--port" in done.stdout


@pytest.mark.parametrize(("name", "path"), [("auth", "/auth/healthz"), ("cloud", "/healthz")])
def test_health_checks_ask_the_port_the_service_listens_on(name: str, path: str) -> None:
    args = build_parser().parse_args(_ems_command(name))
    check = " ".join(_services()[name]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{args.port}{path}" in check


def test_the_cloud_runs_workers_on_shared_stores() -> None:
    args = build_parser().parse_args(_ems_command("cloud"))
    assert args.workers > 1
    env = _env_file("ems.env.example")
    assert env["EMS_REDIS_URL"].startswith("redis://redis:")
    assert env["EMS_DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in env["EMS_DATABASE_URL"]
    auth_port = build_parser().parse_args(_ems_command("auth")).port
    assert _services()["cloud"]["environment"]["EMS_AUTH_URL"] == f"http://auth:{auth_port}"


def test_the_proxy_routes_auth_and_cloud_ports() -> None:
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    auth_port = build_parser().parse_args(_ems_command("auth")).port
    cloud_port = build_parser().parse_args(_ems_command("cloud")).port
    assert re.search(rf"handle /auth/\* \{{\s*reverse_proxy auth:{auth_port}\s*\}}", caddyfile)
    assert f"reverse_proxy cloud:{cloud_port}" in caddyfile
    (mapping,) = _services()["dashboard"]["ports"]
    assert re.search(rf"^:{mapping.rsplit(':', 1)[1]} \{{", caddyfile, re.MULTILINE)


def test_env_files_exist_for_every_service_and_name_real_settings() -> None:
    for service in _services().values():
        if "env_file" in service:
            assert (DEPLOY / f"{service['env_file']}.example").is_file()
    known = {f"EMS_{field.upper()}" for field in CloudSettings.model_fields} | OTHER_SETTINGS
    env = _env_file("ems.env.example")
    assert set(env) <= known, set(env) - known
    cloud_env = _services()["cloud"]["environment"]
    assert set(cloud_env) <= known


def test_env_examples_hold_no_secrets() -> None:
    postgres = _env_file("postgres.env.example")
    assert postgres["POSTGRES_PASSWORD"] == "change-me"
    for url in (v for v in _env_file("ems.env.example").values() if "://" in v):
        userinfo = re.match(r"^\w+://([^@/]*)@", url)
        if userinfo:
            assert userinfo.group(1).endswith(":change-me"), url
    assert "deploy/*.env" in (DEPLOY.parent / ".gitignore").read_text().splitlines()


def test_the_env_example_makes_valid_cloud_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in _env_file("ems.env.example").items():
        monkeypatch.setenv(name, value)
    for name, value in _services()["cloud"]["environment"].items():
        monkeypatch.setenv(name, value)
    settings = CloudSettings()
    assert settings.allowed_origins == ["https://ems.example.org"]
    assert settings.auth_url == "http://auth:8001"


def test_postgres_creates_the_auth_database() -> None:
    env = _env_file("ems.env.example")
    auth_db = env["EMS_AUTH_DATABASE_URL"].rsplit("/", 1)[1]
    (script,) = [v for v in _services()["postgres"]["volumes"] if "initdb" in v]
    host_path = DEPLOY / script.split(":", 1)[0]
    assert f"CREATE DATABASE {auth_db};" in host_path.read_text()


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="no docker compose on this machine (structural checks above only)",
)
def test_docker_compose_config(tmp_path: Path) -> None:
    deploy = shutil.copytree(DEPLOY, tmp_path / "deploy")
    for name in ("ems.env", "postgres.env"):
        shutil.copy(deploy / f"{name}.example", deploy / name)
    done = subprocess.run(
        ["docker", "compose", "-f", str(deploy / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin"},
    )
    assert done.returncode == 0, done.stderr
