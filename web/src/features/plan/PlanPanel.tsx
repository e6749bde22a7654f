"use client";

import { useEffect, useMemo, useState } from "react";
import { TimeChart } from "@/features/charts/TimeChart";
import type { TelemetryListener } from "@/features/live/LiveProvider";
import type { Channels } from "@/lib/frames";
import { ActualHours, formatSaving, parsePlan, planControllers, powerSeries, socSeries } from "./plan";

interface Props {
  edgeId: string;
  channels: Channels | undefined;
  battery: string | null;
  grid: string | null;
  onTelemetry: (listener: TelemetryListener) => () => void;
}

const DAY_S = 86_400;

function numberOf(channels: Channels, address: string | null): number | null {
  const v = address ? channels[`${address}/ActivePower`]?.v : undefined;
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** The optimiser's plan for the next 24 h (SOC, battery power; hourly) beside the forecast and the actual. */
export function PlanPanel({ edgeId, channels, battery, grid, onTelemetry }: Props) {
  const controllerId = planControllers(channels)[0] ?? null;
  const plan = controllerId ? parsePlan(channels, controllerId) : null;
  const [actual, setActual] = useState(() => ActualHours.empty());

  useEffect(
    () =>
      onTelemetry((edge, ts, frame) => {
        if (edge !== edgeId) return;
        const tsS = Date.parse(ts) / 1000;
        setActual((a) => a.add(tsS, numberOf(frame, grid), numberOf(frame, battery), tsS - DAY_S));
      }),
    [onTelemetry, edgeId, grid, battery],
  );

  const power = plan ? powerSeries(plan, actual) : null;
  const soc = useMemo(() => (plan ? socSeries(plan) : null), [plan]);

  if (controllerId === null) return null; // no optimiser on this site
  return (
    <section className="panel" aria-labelledby="plan-h" data-testid="plan-panel">
      <h2 id="plan-h">Optimiser plan</h2>
      {plan === null || power === null || soc === null ? (
        <p className="muted" data-testid="plan-missing">
          The optimiser has not published a plan this dashboard can read yet.
        </p>
      ) : (
        <>
          <p data-testid="plan-saving">
            Expected saving over the next 24 h: <strong>{formatSaving(plan.saving, null)}</strong>
            <span className="muted small"> (against no battery, if the forecast holds)</span>
          </p>
          <TimeChart
            title="Planned state of charge"
            unit="%"
            series={[{ label: "Planned SOC", color: "#2a9d8f" }]}
            data={soc}
            height={160}
            testId="plan-soc-chart"
          />
          <TimeChart
            title="Battery power and net load: plan, forecast and actual"
            unit="W"
            series={[
              { label: "Forecast net load", color: "#8d99ae" },
              { label: "Planned battery", color: "#e76f51" },
              { label: "Actual net load", color: "#264653" },
              { label: "Actual battery", color: "#f4a261" },
            ]}
            data={power}
            testId="plan-power-chart"
          />
        </>
      )}
    </section>
  );
}
