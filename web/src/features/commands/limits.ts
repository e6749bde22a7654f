import type { Reading } from "@/features/diagram/flow";

/**
 * Client-side hints for a battery setpoint. The cloud judges every command
 * again against the site's latest report; these only warn before sending.
 */

export type Way = "charge" | "discharge";

/** The signed setpoint: charge is negative, discharge positive (DESIGN section 3). */
export function signedSetpoint(way: Way, magnitudeW: number): number {
  return way === "charge" ? -Math.abs(magnitudeW) : Math.abs(magnitudeW);
}

export interface Limits {
  maxCharge: Reading;
  maxDischarge: Reading;
}

/** A warning for the value as typed, or `null` when it looks acceptable. */
export function setpointHint(way: Way, magnitude: number | null, limits: Limits): string | null {
  if (magnitude === null) return "Enter the power in W.";
  if (!Number.isFinite(magnitude) || magnitude < 0) return "Enter a positive number of W; choose charge or discharge above.";
  const limit = way === "charge" ? limits.maxCharge : limits.maxDischarge;
  if (limit.value === null) {
    return `The current ${way} limit is not known; the site will judge the value.`;
  }
  if (limit.freshness === "stale") {
    return `The current ${way} limit is stale; the cloud may refuse the command until the site reports again.`;
  }
  if (magnitude > limit.value) {
    return `Beyond the current ${way} limit of ${Math.round(limit.value).toLocaleString("en-US")} W: the cloud will most likely refuse it.`;
  }
  return null;
}
