import { describe, expect, it } from "vitest";
import type { Reading } from "@/features/diagram/flow";
import { setpointHint, signedSetpoint } from "./limits";

const live = (value: number): Reading => ({ value, freshness: "live", ageS: 1 });
const limits = { maxCharge: live(4000), maxDischarge: live(5000) };

describe("signedSetpoint", () => {
  it("charges negative and discharges positive, whatever sign is typed", () => {
    expect(signedSetpoint("charge", 2000)).toBe(-2000);
    expect(signedSetpoint("charge", -2000)).toBe(-2000);
    expect(signedSetpoint("discharge", 2000)).toBe(2000);
  });
});

describe("setpointHint", () => {
  it("is quiet within the current limits", () => {
    expect(setpointHint("charge", 4000, limits)).toBeNull();
    expect(setpointHint("discharge", 5000, limits)).toBeNull();
  });

  it("warns beyond the current limit of the chosen direction", () => {
    expect(setpointHint("charge", 4500, limits)).toMatch(/charge limit of 4,000 W/);
    expect(setpointHint("discharge", 5001, limits)).toMatch(/discharge limit of 5,000 W/);
  });

  it("warns when the limit is unknown or stale, but does not block", () => {
    const missing: Reading = { value: null, freshness: "missing", ageS: null };
    expect(setpointHint("charge", 10, { ...limits, maxCharge: missing })).toMatch(/not known/);
    expect(setpointHint("discharge", 10, { ...limits, maxDischarge: { value: 5000, freshness: "stale", ageS: 60 } })).toMatch(/stale/);
  });

  it("asks for a number", () => {
    expect(setpointHint("charge", null, limits)).toMatch(/Enter/);
    expect(setpointHint("charge", Number.NaN, limits)).toMatch(/positive/);
  });
});
