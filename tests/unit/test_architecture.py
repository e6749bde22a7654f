"""The architecture contracts in pyproject.toml (``[tool.importlinter]``) hold.

No import cycle between ``ems.cli`` and ``ems.authsvc.cli`` nor between the auth
service's models and its revocation module; the cloud imports neither Django nor
the auth service (it reaches it through ``ems.cloud.auth.port``); the edge and the
cloud stay independent. A failure prints import-linter's report: which import
chain broke which contract.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import ems

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
_LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))"
)


def test_the_contracts_that_keep_the_cycles_out_are_configured() -> None:
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    names = [contract["name"] for contract in config["contracts"]]
    assert any("ems.cli" in n and "cycle" in n for n in names), names
    assert any("revocation" in n and "cycle" in n for n in names), names
    assert any("without Django" in n for n in names), names


def test_every_architecture_contract_is_kept() -> None:
    # In a process of its own: import-linter sets up logging its own way, which would
    # leak into the tests after this one. It analyses the ems this test imports.
    src = Path(ems.__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", _LINT, str(PYPROJECT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "BROKEN" not in report
    assert "KEPT" in report
