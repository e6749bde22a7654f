"""``ems edge --standalone`` runs real time, executes a command, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time


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


def test_standalone_executes_a_command_and_stops_on_sigint() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ems.cli",
            "edge",
            "--standalone",
            "--no-table",
            "--command",
            "00:00:01,battery_1,set_active_power,-2000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
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
