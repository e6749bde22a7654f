import { z } from "zod";

/**
 * Historical energy from `GET /api/energy` (kWh per hour or UTC day, from the
 * cloud's hourly rollups) and the energy mix computed from its totals.
 */

const figures = {
  consumed_kwh: z.number(),
  generated_kwh: z.number(),
  charged_kwh: z.number(),
  discharged_kwh: z.number(),
  stored_kwh: z.number(),
  imported_kwh: z.number(),
  exported_kwh: z.number(),
};
export const energyBucketSchema = z.object({ start_s: z.number(), ...figures });
export type EnergyBucket = z.infer<typeof energyBucketSchema>;
export const energyTotalsSchema = z.object(figures);
export type EnergyTotals = z.infer<typeof energyTotalsSchema>;
export const energySchema = z.object({
  edge_id: z.string(),
  bucket: z.enum(["hour", "day"]),
  from: z.number(),
  to: z.number(),
  series: z.array(energyBucketSchema),
  totals: energyTotalsSchema,
});
export type EnergyAnswer = z.infer<typeof energySchema>;

export type BucketKind = "hour" | "day";

/** The request for whole UTC days `fromDate`..`toDate` (both included, `YYYY-MM-DD`). */
export function energyPath(edgeId: string, fromDate: string, toDate: string, bucket: BucketKind): string | null {
  const from = Date.parse(`${fromDate}T00:00:00Z`);
  const to = Date.parse(`${toDate}T00:00:00Z`);
  if (Number.isNaN(from) || Number.isNaN(to) || to < from) return null;
  const query = new URLSearchParams({
    edge_id: edgeId,
    from: new Date(from).toISOString(),
    to: new Date(to + 86_400_000).toISOString(),
    bucket,
  });
  return `/api/energy?${query.toString()}`;
}

export interface MixShare {
  source: "solar" | "battery" | "grid";
  kwh: number;
  pct: number;
}

/**
 * Where the consumed energy came from: the grid's share is what was imported,
 * the battery's what it discharged, solar's the rest of the consumption (PV
 * used on site directly; PV stored and discharged later counts as battery).
 * Totals alone cannot tell grid energy that went through the battery from PV
 * that did, so the battery is one source of its own.
 * Nothing consumed: no mix (null), not 0 % of everything.
 */
export function energyMix(t: Pick<EnergyTotals, "consumed_kwh" | "imported_kwh" | "discharged_kwh">): MixShare[] | null {
  const grid = Math.max(t.imported_kwh, 0);
  const battery = Math.max(t.discharged_kwh, 0);
  const solar = Math.max(t.consumed_kwh - grid - battery, 0);
  const whole = solar + battery + grid;
  if (whole <= 0) return null;
  return [
    { source: "solar", kwh: solar, pct: (100 * solar) / whole },
    { source: "battery", kwh: battery, pct: (100 * battery) / whole },
    { source: "grid", kwh: grid, pct: (100 * grid) / whole },
  ];
}

export function formatKwh(kwh: number): string {
  return `${kwh.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })} kWh`;
}

export function formatPct(pct: number): string {
  return `${pct.toFixed(1)} %`;
}

/** A bucket's label: "06-21 14:00" per hour, "2026-06-21" per day, in UTC like the buckets. */
export function bucketLabel(startS: number, bucket: BucketKind): string {
  const iso = new Date(startS * 1000).toISOString();
  return bucket === "day" ? iso.slice(0, 10) : `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
}
