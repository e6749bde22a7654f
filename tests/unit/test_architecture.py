"""The architecture contracts in pyproject.toml (``[tool.importlinter]``) hold.

No import cycle between ``ems.cli`` and ``ems.authsvc.cli`` nor between the auth
service's models and its revocation module; the cloud imports neither Django nor
the auth service (it reaches it through ``ems.cloud.auth.port``); the edge and the
cloud stay independent. A failure prints import-linter's report: which import
chain broke which contract.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_contracts_that_keep_the_cycles_out_are_configured() -> None:
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    names = [contract["name"] for contract in config["contracts"]]
    assert any("ems.cli" in n and "cycle" in n for n in names), names
    assert any("revocation" in n and "cycle" in n for n in names), names
    assert any("without Django" in n for n in names), names


def test_every_architecture_contract_is_kept(capsys: pytest.CaptureFixture[str]) -> None:
    exit_code = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert exit_code == 0, report
    assert "BROKEN" not in report
