import { describe, expect, it } from "vitest";
import type { Channels } from "@/lib/frames";
import { ActualSteps, formatSaving, parsePlan, planControllers, powerSeries, socSeries } from "./plan";

const T = "2026-06-19T06:00:00Z";
const plan = {
  v: 1,
  start_s: 1_781_848_800,
  step_s: 900,
  net_w: [1000, 1200, 3000],
  battery_w: [-4000, 0, 2000],
  grid_w: [5000, 1200, 1000],
  soc_pct: [30, 30, 25],
  peak_w: 5000,
  saving: 3.2,
};

function channels(value: unknown): Channels {
  return { "opt/Plan": { v: typeof value === "string" ? value : JSON.stringify(value), t: T }, "opt/State": { v: "following_plan", t: T } };
}

describe("the optimiser's plan", () => {
  it("is found by its channel and parsed", () => {
    expect(planControllers(channels(plan))).toEqual(["opt"]);
    expect(parsePlan(channels(plan), "opt")?.saving).toBe(3.2);
  });

  it("is refused when missing, not JSON, another version or ragged", () => {
    expect(parsePlan(undefined, "opt")).toBeNull();
    expect(parsePlan(channels("{oops"), "opt")).toBeNull();
    expect(parsePlan(channels({ ...plan, v: 2 }), "opt")).toBeNull();
    expect(parsePlan(channels({ ...plan, soc_pct: [30] }), "opt")).toBeNull();
    expect(parsePlan({ "opt/Plan": { v: 3, t: T } }, "opt")).toBeNull();
  });

  it("draws the forecast and plan beside the actual, a gap where nothing was measured", () => {
    const actual = ActualSteps.empty(900)
      .add(plan.start_s + 10, 4800, -4000) // net 800
      .add(plan.start_s + 70, 5200, -4000) // net 1200
      .add(plan.start_s + 900, null, 0); // a frame without the grid: skipped
    const parsed = parsePlan(channels(plan), "opt");
    expect(parsed).not.toBeNull();
    const [xs, net, battery, actualNet, actualBattery] = powerSeries(parsed!, actual);
    expect(xs).toEqual([plan.start_s, plan.start_s + 900, plan.start_s + 1800]);
    expect(net).toEqual([1000, 1200, 3000]);
    expect(battery).toEqual([-4000, 0, 2000]);
    expect(actualNet).toEqual([1000, null, null]);
    expect(actualBattery).toEqual([-4000, null, null]);
  });

  it("puts each planned SOC at the end of its step and forgets old actuals", () => {
    const parsed = parsePlan(channels(plan), "opt")!;
    expect(socSeries(parsed)).toEqual([[plan.start_s + 900, plan.start_s + 1800, plan.start_s + 2700], [30, 30, 25]]);
    const old = ActualSteps.empty(900).add(plan.start_s, 1, 1);
    expect(old.at(plan.start_s)).toEqual({ netW: 2, batteryW: 1 });
    const later = old.add(plan.start_s + 900, 1, 1, plan.start_s + 900);
    expect(later.at(plan.start_s)).toBeNull();
    expect(old.at(plan.start_s)).not.toBeNull(); // the old one is unchanged
  });

  it("formats the expected saving with its currency", () => {
    expect(formatSaving(3.2, "EUR")).toBe("3.20 EUR");
    expect(formatSaving(-0.5, null)).toBe("-0.50");
  });
});
