"""The README's table from ``bench/control.py``'s JSON lines.

.venv/bin/python bench/control.py | tee control.jsonl
.venv/bin/python bench/control_table.py < control.jsonl
"""

from __future__ import annotations

import json
import sys
from typing import Any

HEADER = (
    "| data set | case | cost: no battery / controller / optimum | share of the optimum's "
    "saving | import kWh: none / ctrl / opt | 15-min peak W: none / ctrl / opt | "
    "throughput kWh: ctrl / opt | sign changes | notes |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def row(r: dict[str, Any]) -> str:
    none, opt, ctrl = r["no_battery"], r["optimum"], r.get("controller")
    cur = none["currency"]
    if ctrl is None:
        return (
            f"| {r['dataset']} | {r['case']} | {none['cost']:.2f} / — / {opt['cost']:.2f} {cur} "
            f"| skipped | {none['import_kwh']:.1f} / — / {opt['import_kwh']:.1f} "
            f"| {none['peak_import_15min_w']:.0f} / — / {opt['peak_import_15min_w']:.0f} "
            f"| — / {opt['battery_throughput_kwh']:.0f} | — | {r['skipped']} |"
        )
    share = r["share_of_optimum_saving"]
    return (
        f"| {r['dataset']} | {r['case']} "
        f"| {none['cost']:.2f} / {ctrl['cost']:.2f} / {opt['cost']:.2f} {cur} "
        f"| {'—' if share is None else f'{100 * share:.1f} %'} "
        f"| {none['import_kwh']:.1f} / {ctrl['import_kwh']:.1f} / {opt['import_kwh']:.1f} "
        f"| {none['peak_import_15min_w']:.0f} / {ctrl['peak_import_15min_w']:.0f} / "
        f"{opt['peak_import_15min_w']:.0f} "
        f"| {ctrl['battery_throughput_kwh']:.0f} / {opt['battery_throughput_kwh']:.0f} "
        f"| {ctrl['battery_sign_changes']} | {notes(r)} |"
    )


def notes(r: dict[str, Any]) -> str:
    parts = []
    if "import_vs_greedy_pct" in r:
        parts.append(
            f"import vs greedy rule {r['import_vs_greedy_pct']:+.2f} % "
            f"({r['greedy_self_consumption']['import_kwh']:.1f} kWh)"
        )
    weeks = r.get("peak_shaving", [])
    if weeks:
        held = sum(p["held"] for p in weeks)
        worst = max(p["peak_import_15min_w"] / p["threshold_w"] for p in weeks)
        over = sum(p["quarters_over"] for p in weeks)
        exhausted = sum(p["of_those_with_battery_exhausted"] for p in weeks)
        parts.append(
            f"threshold (80 % of the no-battery peak) held within 1 % in {held}/{len(weeks)} "
            f"spans, worst peak {100 * worst:.1f} % of it; {over} quarter hours over, "
            f"{exhausted} of those with the battery empty or at its limit"
        )
    failed = [c["check"].split(": ", 1)[1] for c in r.get("checks", []) if not c["passed"]]
    if failed:
        parts.append("**failed**: " + "; ".join(failed))
    return "<br>".join(parts)


def main() -> int:
    print(HEADER)
    for line in sys.stdin:
        record = json.loads(line)
        if "dataset" in record:
            print(row(record))
        else:
            print(
                f"\nLP, 96 steps of 15 min: solve p50 {record['lp_96_steps_solve_ms_p50']} ms, "
                f"p95 {record['lp_96_steps_solve_ms_p95']} ms (budget "
                f"{record['lp_budget_p95_ms']:.0f} ms); checks passed "
                f"{record['checks_passed']}, failed {len(record['checks_failed'])}."
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
