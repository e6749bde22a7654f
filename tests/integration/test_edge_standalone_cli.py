"""``ems edge --standalone`` runs real time, executes a command, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


def wait_for_line(lines: queue.Queue[str], needle: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    seen = []
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} not seen within {timeout_s} s; got:\n{''.join(seen)}")


def start(*extra: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ems.cli", "edge", "--standalone", "--no-table", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
    return proc, lines


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0
    return out


def test_standalone_executes_a_command_and_stops_on_sigint() -> None:
    proc, lines = start("--command", "00:00:01,battery_1,set_active_power,-2000")
    try:
        wait_for_line(lines, "running standalone", 30)
        line = wait_for_line(lines, "command cli-1 controller.executed", 30)
        assert "SetActivePower = -2000" in line
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "stopped after" in out
    assert "0 controller errors" in out


def test_a_restarted_edge_resumes_the_manual_hold(tmp_path: Path) -> None:
    state = tmp_path / "edge" / "site-1" / "controllers.json"
    held = {"manual_override": {"held": {"battery_1": {"set_active_power": -2000}}}}
    proc, lines = start(
        "--data-dir", str(tmp_path), "--command", "00:00:01,battery_1,set_active_power,-2000"
    )
    try:
        wait_for_line(lines, "command cli-1 controller.executed", 60)
        stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert json.loads(state.read_text()) == held
    proc, lines = start("--data-dir", str(tmp_path))  # no command this time
    try:
        wait_for_line(
            lines, "battery_1 resumes manual mode, holding {'set_active_power': -2000", 60
        )
        wait_for_line(lines, "running standalone", 60)
        stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert json.loads(state.read_text()) == held, "still held after the second run"


def test_edge_without_standalone_says_what_to_do() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ems.cli", "edge"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "--standalone" in proc.stderr


def test_every_subcommand_has_help() -> None:
    for args in ([], ["edge"], ["demo"], ["simulate"]):
        proc = subprocess.run(
            [sys.executable, "-m", "ems.cli", *args, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert "usage: ems" in proc.stdout


def test_a_standalone_edge_with_a_data_dir_writes_its_log_file(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "ems.cli", "edge", "--standalone", "--no-table"]
    proc = subprocess.run(
        [*command, "--data-dir", str(tmp_path), "--for", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    log_file = tmp_path / "edge" / "site-1" / "logs" / "edge-site-1.log"
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert any("running standalone" in r["event"] for r in records)
    assert all(r["edge_id"] == "site-1" for r in records)
