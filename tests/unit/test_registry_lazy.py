"""Registry lookups import the type's own sub-package, not every implementation."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ems.errors import RegistryError


def _run(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter (imports are process-wide) and return its lines."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": src},
        timeout=120,
    )
    return out.stdout.split()


def test_a_controller_lookup_imports_only_its_own_package() -> None:
    lines = _run(
        """
        import sys
        from ems.edge.controllers import CONTROLLERS
        cls = CONTROLLERS.get("self_consumption")
        print(cls.__module__)
        print("optimizer" if "ems.edge.controllers.optimizer" in sys.modules else "-")
        print("demand_response" if "ems.edge.controllers.demand_response" in sys.modules else "-")
        """
    )
    assert lines[0].startswith("ems.edge.controllers.self_consumption")
    assert lines[1:] == ["-", "-"]


def test_a_driver_named_after_its_package_first_word_is_found() -> None:
    lines = _run(
        """
        import sys
        from ems.drivers import DRIVERS
        print(DRIVERS.get("modbus_tcp").type_name)
        print("can" if "ems.drivers.can_bms" in sys.modules else "-")
        """
    )
    assert lines == ["modbus_tcp", "-"]


def test_names_still_lists_every_type() -> None:
    from ems.edge.controllers import CONTROLLERS

    names = CONTROLLERS.names()
    assert {"self_consumption", "optimizer", "peak_shaving", "tou_schedule"} <= set(names)


def test_an_unknown_type_names_the_known_ones() -> None:
    from ems.edge.controllers import CONTROLLERS

    with pytest.raises(RegistryError, match=r"unknown controller type 'no_such'.*self_consumption"):
        CONTROLLERS.get("no_such")
    with pytest.raises(RegistryError, match="unknown controller type"):
        CONTROLLERS.get("../etc")


def test_a_type_outside_its_named_package_is_found_by_the_full_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "lazy_home_pkg"
    (home / "alpha").mkdir(parents=True)
    (home / "beta").mkdir()
    (home / "__init__.py").write_text(
        "from ems.registry import Registry\nWIDGETS = Registry('widget', 'lazy_home_pkg')\n"
    )
    (home / "alpha" / "__init__.py").write_text(
        "from lazy_home_pkg import WIDGETS\nclass A: pass\nWIDGETS.add('alpha', A)\n"
    )
    # beta's folder registers a type named differently from the folder.
    (home / "beta" / "__init__.py").write_text(
        "from lazy_home_pkg import WIDGETS\nclass G: pass\nWIDGETS.add('gamma_widget', G)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib
    import sys

    try:
        widgets = importlib.import_module("lazy_home_pkg").WIDGETS
        assert widgets.get("alpha").__name__ == "A"
        assert "lazy_home_pkg.beta" not in sys.modules  # alpha alone was imported
        assert widgets.get("gamma_widget").__name__ == "G"  # found by scanning every folder
        assert widgets.names() == ["alpha", "gamma_widget"]
    finally:
        for name in [m for m in sys.modules if m.startswith("lazy_home_pkg")]:
            del sys.modules[name]
