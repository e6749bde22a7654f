import { z } from "zod";
import type { Aligned } from "@/features/charts/series";
import type { Channels } from "@/lib/frames";

/**
 * The optimiser's plan as its edge publishes it (`<controller id>/Plan`, a JSON
 * status value: src/ems/edge/controllers/optimizer/plan_status.py), and the
 * series the plan panel draws from it: the plan's SOC, its battery power beside
 * the forecast net load, and what actually happened per plan step.
 */

export const PLAN_VERSION = 1;

const watts = z.array(z.number().int());

export const planSchema = z
  .object({
    v: z.literal(PLAN_VERSION),
    start_s: z.number(),
    step_s: z.number().positive(),
    net_w: watts,
    battery_w: watts,
    grid_w: watts,
    soc_pct: z.array(z.number()),
    peak_w: z.number(),
    saving: z.number(),
  })
  .refine(
    (p) => p.battery_w.length === p.net_w.length && p.grid_w.length === p.net_w.length && p.soc_pct.length === p.net_w.length,
    { message: "the plan's arrays differ in length" },
  );

export type Plan = z.infer<typeof planSchema>;

/** The controllers that publish a plan, from the channel names (`<id>/Plan`), sorted. */
export function planControllers(channels: Channels | undefined): string[] {
  if (!channels) return [];
  return Object.keys(channels)
    .filter((name) => name.endsWith("/Plan") && name.split("/").length === 2)
    .map((name) => name.slice(0, -"/Plan".length))
    .sort();
}

/** The plan of `controllerId`, or null when absent, not JSON, or not this version's shape. */
export function parsePlan(channels: Channels | undefined, controllerId: string): Plan | null {
  const value = channels?.[`${controllerId}/Plan`]?.v;
  if (typeof value !== "string") return null;
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return null;
  }
  const parsed = planSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}

type Sums = { net: number; battery: number; n: number };

/** Measured per plan step: the mean net load and battery power [W] of the frames seen.
 *  Immutable (React state): `add` returns a new one. */
export class ActualSteps {
  private constructor(
    readonly stepS: number,
    private readonly sums: ReadonlyMap<number, Sums>,
  ) {}

  static empty(stepS: number): ActualSteps {
    return new ActualSteps(stepS, new Map());
  }

  /** With one frame at `tsS` (net load = grid + battery power, battery > 0 discharging),
   *  forgetting steps before `keepFromS`; unchanged when either value is missing. */
  add(tsS: number, gridW: number | null, batteryW: number | null, keepFromS = -Infinity): ActualSteps {
    if (gridW === null || batteryW === null) return this;
    const step = Math.floor(tsS / this.stepS) * this.stepS;
    const next = new Map([...this.sums].filter(([s]) => s >= keepFromS));
    const got = next.get(step) ?? { net: 0, battery: 0, n: 0 };
    next.set(step, { net: got.net + gridW + batteryW, battery: got.battery + batteryW, n: got.n + 1 });
    return new ActualSteps(this.stepS, next);
  }

  at(stepStartS: number): { netW: number; batteryW: number } | null {
    const got = this.sums.get(stepStartS);
    return got ? { netW: got.net / got.n, batteryW: got.battery / got.n } : null;
  }
}

/** x: each step's start; the forecast net load, planned battery power, actual net, actual battery. */
export function powerSeries(plan: Plan, actual: ActualSteps): Aligned {
  const xs = plan.net_w.map((_, k) => plan.start_s + k * plan.step_s);
  const measured = xs.map((x) => actual.at(x));
  return [
    xs,
    [...plan.net_w],
    [...plan.battery_w],
    measured.map((m) => (m ? m.netW : null)),
    measured.map((m) => (m ? m.batteryW : null)),
  ];
}

/** x: each step's end (the SOC the plan reaches then); the planned SOC [%]. */
export function socSeries(plan: Plan): Aligned {
  return [plan.soc_pct.map((_, k) => plan.start_s + (k + 1) * plan.step_s), [...plan.soc_pct]];
}

/** The expected saving as text, e.g. "12.30 EUR", with the sign of a loss kept. */
export function formatSaving(saving: number, currency: string | null): string {
  const text = saving.toFixed(2);
  return currency ? `${text} ${currency}` : text;
}
