"use client";

import { useEffect, useId, useMemo, useState } from "react";
import { env } from "@/config/env";
import type { SiteChannels } from "@/features/diagram/flow";
import { getJson, telemetryHistorySchema, telemetryPath } from "@/lib/api";
import type { Channels } from "@/lib/frames";
import { historyToAligned, LIVE_WINDOW_S, LiveBuffer, type Aligned } from "./series";
import { TimeChart, type SeriesSpec } from "./TimeChart";

type Range = "live" | "1h" | "6h" | "24h" | "7d" | "custom";
const RANGE_S: Record<Exclude<Range, "live" | "custom">, number> = {
  "1h": 3600,
  "6h": 6 * 3600,
  "24h": 86_400,
  "7d": 7 * 86_400,
};

interface Props {
  edgeId: string;
  devices: SiteChannels;
  token: () => string | null;
  onTelemetry: (listener: (edgeId: string, ts: string, channels: Channels) => void) => () => void;
}

const COLORS = { grid: "#6b4fbb", pv: "#d99a00", battery: "#1f7a4d", load: "#c0392b", soc: "#1f7a4d" };

/** Grid, PV, battery and load power, and SOC: the last 15 min live, or a chosen range. */
export function SiteCharts({ edgeId, devices, token, onTelemetry }: Props) {
  const ids = useId();
  const power = useMemo(() => {
    const list: { address: string; spec: SeriesSpec }[] = [];
    const add = (device: string | null, label: string, color: string) => {
      if (device) list.push({ address: `${device}/ActivePower`, spec: { label, color } });
    };
    add(devices.grid, "Grid (+ import)", COLORS.grid);
    add(devices.pv, "PV", COLORS.pv);
    add(devices.battery, "Battery (+ discharge)", COLORS.battery);
    add(devices.load, "Load", COLORS.load);
    return list;
  }, [devices]);
  const socAddress = devices.battery ? `${devices.battery}/Soc` : null;
  const all = useMemo(
    () => [...power.map((p) => p.address), ...(socAddress ? [socAddress] : [])],
    [power, socAddress],
  );

  const [range, setRange] = useState<Range>("live");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [data, setData] = useState<Aligned>(() => [[], ...all.map(() => [])]);
  const [problem, setProblem] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);

  // Live: seed the window from history once, then append every frame.
  useEffect(() => {
    if (range !== "live") return undefined;
    const live = new LiveBuffer(all, LIVE_WINDOW_S);
    const access = token();
    const endS = Date.now() / 1000;
    if (access) {
      void getJson(
        env.NEXT_PUBLIC_EMS_API_BASE,
        telemetryPath(edgeId, all, endS - LIVE_WINDOW_S, endS, 900),
        access,
        telemetryHistorySchema,
      )
        .then((h) => {
          live.seed(historyToAligned(h, all));
          setData(live.data());
        })
        .catch(() => undefined); // the live frames still fill the chart
    }
    const stop = onTelemetry((edge, ts, channels) => {
      if (edge !== edgeId) return;
      live.push(Date.parse(ts) / 1000, channels);
      setData(live.data());
    });
    return stop;
  }, [range, all, edgeId, token, onTelemetry]);

  const load = async (startS: number, endS: number) => {
    const access = token();
    if (!access) return;
    setLoading(true);
    setProblem(null);
    try {
      const h = await getJson(
        env.NEXT_PUBLIC_EMS_API_BASE,
        telemetryPath(edgeId, all, startS, endS, 600),
        access,
        telemetryHistorySchema,
      );
      setData(historyToAligned(h, all));
    } catch (err) {
      setProblem(err instanceof Error ? err.message : "history unavailable");
    } finally {
      setLoading(false);
    }
  };

  const choose = (next: Range) => {
    setRange(next);
    setProblem(null);
    setData([[], ...all.map(() => [])]);
    if (next !== "live" && next !== "custom") {
      const endS = Date.now() / 1000;
      void load(endS - RANGE_S[next], endS);
    }
  };

  const submitCustom = (e: React.FormEvent) => {
    e.preventDefault();
    const startS = Date.parse(from) / 1000;
    const endS = Date.parse(to) / 1000;
    if (!Number.isFinite(startS) || !Number.isFinite(endS) || startS >= endS) {
      setProblem("Choose a start before the end.");
      return;
    }
    void load(startS, endS);
  };

  const [xs, ...ys] = data;
  const powerData: Aligned = [xs, ...ys.slice(0, power.length)];
  const socData: Aligned = [xs, ...(socAddress ? ys.slice(power.length) : [])];

  return (
    <section className="panel" aria-labelledby={`${ids}-h`}>
      <h2 id={`${ids}-h`}>Charts</h2>
      <div className="field-row">
        <div className="field">
          <label htmlFor={`${ids}-range`}>Range</label>
          <select id={`${ids}-range`} value={range} onChange={(e) => choose(e.target.value as Range)}>
            <option value="live">Live: last 15 minutes</option>
            <option value="1h">Last hour</option>
            <option value="6h">Last 6 hours</option>
            <option value="24h">Last 24 hours</option>
            <option value="7d">Last 7 days</option>
            <option value="custom">Custom range…</option>
          </select>
        </div>
        {range === "custom" && (
          <form className="field-row" onSubmit={submitCustom}>
            <div className="field">
              <label htmlFor={`${ids}-from`}>From</label>
              <input id={`${ids}-from`} type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} required />
            </div>
            <div className="field">
              <label htmlFor={`${ids}-to`}>To</label>
              <input id={`${ids}-to`} type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} required />
            </div>
            <button type="submit">Show</button>
          </form>
        )}
      </div>
      {loading && <p className="muted" role="status">Loading history…</p>}
      {problem && <p className="badge badge-bad" role="alert">{problem}</p>}
      {range !== "live" && xs.length === 0 && !loading && <p className="muted">No data in this range.</p>}
      <TimeChart title="Power [W]" unit="W" series={power.map((p) => p.spec)} data={powerData} testId="chart-power" />
      {socAddress && (
        <TimeChart
          title="Battery state of charge [%]"
          unit="%"
          series={[{ label: "SOC", color: COLORS.soc }]}
          data={socData}
          height={160}
          testId="chart-soc"
        />
      )}
    </section>
  );
}
