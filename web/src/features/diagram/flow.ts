import type { Channels } from "@/lib/frames";

/**
 * What the single-line diagram shows for each branch: the value, whether it
 * can be trusted, and which way the power flows.
 *
 * Sign conventions (DESIGN section 3): battery > 0 discharging, < 0 charging;
 * grid > 0 importing, < 0 exporting; PV and load >= 0; all in W. A value that
 * is missing or older than the stale limit is never shown as zero.
 */

export type Freshness = "live" | "stale" | "missing";

export interface Reading {
  value: number | null;
  freshness: Freshness;
  /** Age of the sample [s]; `null` when missing. */
  ageS: number | null;
  /** When the edge measured it (RFC 3339), so a new sample shows even when its value repeats. */
  at?: string;
}

export function reading(
  channels: Channels | undefined,
  address: string,
  nowMs: number,
  staleAfterS: number,
): Reading {
  const sample = channels?.[address];
  if (!sample || typeof sample.v !== "number" || !Number.isFinite(sample.v)) {
    return { value: null, freshness: "missing", ageS: null };
  }
  const ageS = Math.max(0, (nowMs - Date.parse(sample.t)) / 1000);
  return { value: sample.v, freshness: ageS > staleAfterS ? "stale" : "live", ageS, at: sample.t };
}

export type Branch = "grid" | "pv" | "battery" | "load";

export type Direction =
  | "importing"
  | "exporting"
  | "charging"
  | "discharging"
  | "producing"
  | "consuming"
  | "idle"
  | "unknown";

export interface Flow {
  direction: Direction;
  /** Power flows from the branch into the site's bus (true), out of it (false), or neither. */
  towardsBus: boolean | null;
  /** The direction in words. */
  words: string;
}

/** Below this magnitude a branch counts as idle [W]: meters are never exactly 0. */
export const IDLE_BAND_W = 5;

export function flowOf(branch: Branch, r: Reading, idleBandW = IDLE_BAND_W): Flow {
  if (r.value === null) return { direction: "unknown", towardsBus: null, words: "no data" };
  const v = r.value;
  if (Math.abs(v) < idleBandW) return { direction: "idle", towardsBus: null, words: "idle" };
  switch (branch) {
    case "grid":
      return v > 0
        ? { direction: "importing", towardsBus: true, words: "importing from the grid" }
        : { direction: "exporting", towardsBus: false, words: "exporting to the grid" };
    case "battery":
      return v > 0
        ? { direction: "discharging", towardsBus: true, words: "discharging" }
        : { direction: "charging", towardsBus: false, words: "charging" };
    case "pv":
      // PV only produces; a negative value is the inverter's own draw at night.
      return v > 0
        ? { direction: "producing", towardsBus: true, words: "producing" }
        : { direction: "consuming", towardsBus: false, words: "drawing (standby)" };
    case "load":
      return v > 0
        ? { direction: "consuming", towardsBus: false, words: "consuming" }
        : { direction: "producing", towardsBus: true, words: "feeding back" };
  }
}

/** The value as the diagram prints it: magnitude with its unit, `—` when missing. */
export function shownPower(r: Reading): string {
  if (r.value === null) return "—";
  const abs = Math.abs(r.value);
  return abs >= 1000 ? `${(abs / 1000).toFixed(2)} kW` : `${Math.round(abs)} W`;
}

export function freshnessWords(r: Reading): string | null {
  if (r.freshness === "missing") return "no data";
  if (r.freshness === "stale") return `stale: ${formatAge(r.ageS ?? 0)} old`;
  return null;
}

export function formatAge(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}

/** The channel addresses of a site's branches, from its inventory (demo ids as fallback). */
export interface SiteChannels {
  battery: string | null;
  grid: string | null;
  pv: string | null;
  load: string | null;
}

export function siteDevices(devices: { id: string; profile: string }[] | undefined): SiteChannels {
  const first = (profile: string, fallback: string): string | null => {
    if (!devices || devices.length === 0) return fallback;
    return devices.find((d) => d.profile === profile)?.id ?? null;
  };
  return {
    battery: first("battery", "battery_1"),
    grid: first("grid_meter", "grid"),
    pv: first("pv_inverter", "pv_1"),
    load: first("load_meter", "load"),
  };
}
