"use client";

import { useCallback, useEffect, useState } from "react";
import { env } from "@/config/env";
import { useSession } from "@/features/auth/SessionProvider";
import { call, reportSchema, type Report } from "./api";
import { EnergyBars } from "./EnergyBars";
import { PERIOD_KINDS, formatNumber, isoDate, periodStart, reportPath, shiftPeriod, type PeriodKind } from "./period";
import { Subscriptions } from "./Subscriptions";

/** A site's reports: choose a period, read the figures and the chart, download CSV or PDF. */
export function ReportsPage({ edgeId }: { edgeId: string }) {
  const { token } = useSession();
  const [kind, setKind] = useState<PeriodKind>("month");
  const [first, setFirst] = useState(() => periodStart("month", isoDate(new Date())));
  const [report, setReport] = useState<Report | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const base = env.NEXT_PUBLIC_EMS_API_BASE;

  useEffect(() => {
    const access = token();
    if (!access) return;
    let current = true;
    call(base, reportPath(edgeId, kind, first, "json"), access)
      .then(async (r) => reportSchema.parse(await r.json()))
      .then(
        (body) => {
          if (!current) return;
          setReport(body);
          setProblem(null);
        },
        (err: unknown) => current && setProblem(err instanceof Error ? err.message : "report unavailable"),
      );
    return () => {
      current = false;
    };
  }, [base, edgeId, kind, first, token]);

  const download = useCallback(
    async (format: "csv" | "pdf") => {
      const access = token();
      if (!access) return;
      try {
        const response = await call(base, reportPath(edgeId, kind, first, format), access);
        const url = URL.createObjectURL(await response.blob());
        const a = document.createElement("a");
        a.href = url;
        a.download = `energy-${edgeId}-${kind}-${first}.${format}`;
        a.click();
        URL.revokeObjectURL(url);
      } catch (err) {
        setProblem(err instanceof Error ? err.message : "download failed");
      }
    },
    [base, edgeId, kind, first, token],
  );

  const e = report?.energy;
  const money = report?.units.money ?? "";
  return (
    <div className="reports">
      <h1>Reports: {edgeId}</h1>
      <form className="row" aria-label="Period" onSubmit={(ev) => ev.preventDefault()}>
        <label>
          Period{" "}
          <select
            value={kind}
            onChange={(ev) => {
              const next = ev.target.value as PeriodKind;
              setKind(next);
              setFirst(periodStart(next, first));
            }}
          >
            {PERIOD_KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => setFirst(shiftPeriod(kind, first, -1))} aria-label="Previous period">
          ←
        </button>
        <input
          type="date"
          aria-label="Start"
          value={first}
          onChange={(ev) => ev.target.value && setFirst(periodStart(kind, ev.target.value))}
        />
        <button type="button" onClick={() => setFirst(shiftPeriod(kind, first, 1))} aria-label="Next period">
          →
        </button>
        <button type="button" onClick={() => void download("csv")}>
          Download CSV
        </button>
        <button type="button" onClick={() => void download("pdf")}>
          Download PDF
        </button>
      </form>
      {problem && (
        <p className="badge badge-bad" role="alert">
          {problem}
        </p>
      )}
      {report && e && (
        <>
          <p className="muted">
            {report.period.first_day} to {report.period.last_day} ({report.period.hours} h, {report.period.timezone}),
            data coverage {formatNumber(report.period.coverage_pct)} %
          </p>
          <table aria-label="Energy">
            <tbody>
              <Row label="Consumption kWh" value={e.consumption_kwh} />
              <Row label="Production kWh" value={e.production_kwh} />
              <Row label="Grid import kWh" value={e.grid_import_kwh} />
              <Row label="Grid export kWh" value={e.grid_export_kwh} />
              <Row label="Battery charge kWh" value={e.battery_charge_kwh} />
              <Row label="Battery discharge kWh" value={e.battery_discharge_kwh} />
              <Row label="Self-consumption %" value={e.self_consumption_pct} />
              <Row label="Self-sufficiency %" value={e.self_sufficiency_pct} />
              {report.cost && <Row label={`Cost ${money}`} value={report.cost.total} digits={2} />}
              {report.savings.no_battery.savings !== undefined && (
                <Row label={`Savings vs. no battery ${money}`} value={report.savings.no_battery.savings} digits={2} />
              )}
              {report.carbon && <Row label="CO₂ avoided kg" value={report.carbon.total_kg} />}
            </tbody>
          </table>
          <EnergyBars rows={report.chart} unit={report.chart.length > 0 && kind === "day" ? "kWh per hour" : "kWh per day"} />
          <Details report={report} />
        </>
      )}
      <Subscriptions edgeId={edgeId} />
    </div>
  );
}

function Row({ label, value, digits = 1 }: { label: string; value: number | null; digits?: number }) {
  return (
    <tr>
      <th scope="row">{label}</th>
      <td>{formatNumber(value, digits)}</td>
    </tr>
  );
}

function Details({ report }: { report: Report }) {
  const pq = report.power_quality;
  const battery = report.battery_health;
  const anomalies = report.anomalies?.anomalies ?? [];
  return (
    <>
      <h2>Peak demand</h2>
      {report.peaks.map((m) => (
        <ol key={m.month} aria-label={`Peaks ${m.month}`}>
          {m.intervals.map((p) => (
            <li key={p.start_local}>
              {p.start_local.slice(0, 16).replace("T", " ")}: {formatNumber(p.import_w, 0)} W
            </li>
          ))}
        </ol>
      ))}
      {pq && (
        <>
          <h2>Power quality (EN 50160)</h2>
          <ul>
            {[...pq.voltage.channels, ...pq.frequency.channels].map((c) => (
              <li key={c.channel}>
                {c.channel}: {c.minutes_outside} of {c.minutes_measured} minutes outside; range{" "}
                {formatNumber(c.worst_low, 2)} to {formatNumber(c.worst_high, 2)}
              </li>
            ))}
          </ul>
        </>
      )}
      {battery && (
        <>
          <h2>Battery health</h2>
          <p>
            {formatNumber(battery.equivalent_full_cycles, 2)} equivalent full cycles,{" "}
            {formatNumber(battery.throughput_kwh)} kWh throughput, SOH {formatNumber(battery.soh_pct)} % (
            {battery.soh_source}), about {formatNumber(battery.remaining_useful_life.years)} years to{" "}
            {battery.remaining_useful_life.eol_soh_pct} % SOH at this rate.
          </p>
        </>
      )}
      <h2>Anomalies ({anomalies.length})</h2>
      <ul>
        {anomalies.map((a) => (
          <li key={`${a.channel}-${a.start_local}`}>
            {a.start_local.slice(0, 16).replace("T", " ")} {a.channel}: {formatNumber(a.mean_w, 0)} W (usually{" "}
            {formatNumber(a.expected_w, 0)} W)
          </li>
        ))}
      </ul>
    </>
  );
}
