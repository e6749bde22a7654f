import type { Aligned } from "@/features/charts/series";
import type { Channels } from "@/lib/frames";

/**
 * The optimiser's plan as its edge publishes it, hour by hour
 * (src/ems/edge/controllers/optimizer/plan_status.py): `<id>/PlanStart` (epoch
 * s) and for hour hh = 00..23 from there `PlanNetLoadhh` (forecast net load, W),
 * `PlanBatteryPowerhh` (W, > 0 discharging) and `PlanSochh` (SOC at the hour's
 * end, %), plus `<id>/ExpectedSaving`; and the series the plan panel draws.
 */

export const PLAN_HOURS = 24;
const HOUR_S = 3600;

export interface Plan {
  startS: number;
  netW: (number | null)[];
  batteryW: (number | null)[];
  socPct: (number | null)[];
  saving: number | null;
}

function num(channels: Channels, address: string): number | null {
  const v = channels[address]?.v;
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

const hh = (h: number) => String(h).padStart(2, "0");

/** The controllers that publish a plan (`<id>/PlanStart`), sorted. */
export function planControllers(channels: Channels | undefined): string[] {
  if (!channels) return [];
  return Object.keys(channels)
    .filter((name) => name.endsWith("/PlanStart") && name.split("/").length === 2)
    .map((name) => name.slice(0, -"/PlanStart".length))
    .sort();
}

/** The plan of `controllerId`, or null without a numeric start or without any planned hour. */
export function parsePlan(channels: Channels | undefined, controllerId: string): Plan | null {
  if (!channels) return null;
  const startS = num(channels, `${controllerId}/PlanStart`);
  if (startS === null) return null;
  const hours = Array.from({ length: PLAN_HOURS }, (_, h) => h);
  const at = (name: string) => hours.map((h) => num(channels, `${controllerId}/${name}${hh(h)}`));
  const plan = {
    startS,
    netW: at("PlanNetLoad"),
    batteryW: at("PlanBatteryPower"),
    socPct: at("PlanSoc"),
    saving: num(channels, `${controllerId}/ExpectedSaving`),
  };
  return plan.socPct.some((v) => v !== null) ? plan : null;
}

type Sums = { net: number; battery: number; n: number };

/** Measured per hour of the plan: the mean net load and battery power [W] of the frames seen.
 *  Immutable (React state): `add` returns a new one. */
export class ActualHours {
  private constructor(private readonly sums: ReadonlyMap<number, Sums>) {}

  static empty(): ActualHours {
    return new ActualHours(new Map());
  }

  /** With one frame at `tsS` (net load = grid + battery power, battery > 0 discharging),
   *  forgetting hours before `keepFromS`; unchanged when either value is missing. */
  add(tsS: number, gridW: number | null, batteryW: number | null, keepFromS = -Infinity): ActualHours {
    if (gridW === null || batteryW === null) return this;
    const hour = Math.floor(tsS / HOUR_S) * HOUR_S;
    const next = new Map([...this.sums].filter(([s]) => s >= keepFromS));
    const got = next.get(hour) ?? { net: 0, battery: 0, n: 0 };
    next.set(hour, { net: got.net + gridW + batteryW, battery: got.battery + batteryW, n: got.n + 1 });
    return new ActualHours(next);
  }

  /** The hour starting at `hourS` (a multiple of 3600), or null if nothing was measured. */
  at(hourS: number): { netW: number; batteryW: number } | null {
    const got = this.sums.get(hourS);
    return got ? { netW: got.net / got.n, batteryW: got.battery / got.n } : null;
  }
}

/** x: each hour's start; forecast net load, planned battery power, actual net, actual battery.
 *  The actual is looked up by clock hour (the plan starts on a 15-min step: the nearest one). */
export function powerSeries(plan: Plan, actual: ActualHours): Aligned {
  const xs = plan.netW.map((_, h) => plan.startS + h * HOUR_S);
  const measured = xs.map((x) => actual.at(Math.round(x / HOUR_S) * HOUR_S));
  return [
    xs,
    [...plan.netW],
    [...plan.batteryW],
    measured.map((m) => (m ? m.netW : null)),
    measured.map((m) => (m ? m.batteryW : null)),
  ];
}

/** x: each hour's end (the SOC the plan reaches then); the planned SOC [%]. */
export function socSeries(plan: Plan): Aligned {
  return [plan.socPct.map((_, h) => plan.startS + (h + 1) * HOUR_S), [...plan.socPct]];
}

/** The expected saving as text, e.g. "12.30 EUR"; "—" when unknown. */
export function formatSaving(saving: number | null, currency: string | null): string {
  if (saving === null) return "—";
  const text = saving.toFixed(2);
  return currency ? `${text} ${currency}` : text;
}
