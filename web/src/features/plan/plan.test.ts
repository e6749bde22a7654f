import { describe, expect, it } from "vitest";
import type { Channels } from "@/lib/frames";
import { ActualHours, formatSaving, parsePlan, planControllers, powerSeries, socSeries } from "./plan";

const T = "2026-06-19T06:00:00Z";
const START = 1_781_848_800; // 06:00 UTC, on the hour

function channels(values: Record<string, number | string | null>): Channels {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, { v, t: T }]));
}

const published = channels({
  "opt/PlanStart": START,
  "opt/PlanNetLoad00": 1000,
  "opt/PlanBatteryPower00": -4000,
  "opt/PlanSoc00": 60,
  "opt/PlanNetLoad01": 3000,
  "opt/PlanBatteryPower01": 2000,
  "opt/PlanSoc01": 40,
  "opt/PlanSoc02": null, // beyond the horizon
  "opt/ExpectedSaving": 3.2,
  "opt/State": "following_plan",
});

describe("the optimiser's plan", () => {
  it("is found by its channels and read hour by hour", () => {
    expect(planControllers(published)).toEqual(["opt"]);
    const plan = parsePlan(published, "opt");
    expect(plan?.startS).toBe(START);
    expect(plan?.socPct.slice(0, 3)).toEqual([60, 40, null]);
    expect(plan?.socPct).toHaveLength(24);
    expect(plan?.saving).toBe(3.2);
  });

  it("is absent without a numeric start or without any planned hour", () => {
    expect(parsePlan(undefined, "opt")).toBeNull();
    expect(parsePlan(channels({ "opt/PlanStart": "soon", "opt/PlanSoc00": 50 }), "opt")).toBeNull();
    expect(parsePlan(channels({ "opt/PlanStart": START }), "opt")).toBeNull();
    expect(planControllers(channels({ "battery_1/Soc": 50 }))).toEqual([]);
  });

  it("draws the forecast and plan beside the actual, a gap where nothing was measured", () => {
    const actual = ActualHours.empty()
      .add(START + 10, 4800, -4000) // net 800
      .add(START + 1800, 5200, -4000) // net 1200
      .add(START + 3600, null, 0); // a frame without the grid: skipped
    const plan = parsePlan(published, "opt")!;
    const [xs, net, battery, actualNet, actualBattery] = powerSeries(plan, actual);
    expect(xs.slice(0, 2)).toEqual([START, START + 3600]);
    expect(net?.slice(0, 3)).toEqual([1000, 3000, null]);
    expect(battery?.slice(0, 2)).toEqual([-4000, 2000]);
    expect(actualNet?.slice(0, 2)).toEqual([1000, null]);
    expect(actualBattery?.slice(0, 2)).toEqual([-4000, null]);
  });

  it("puts each planned SOC at the end of its hour and forgets old actuals", () => {
    const [xs, soc] = socSeries(parsePlan(published, "opt")!);
    expect(xs.slice(0, 2)).toEqual([START + 3600, START + 7200]);
    expect(soc?.slice(0, 2)).toEqual([60, 40]);
    const old = ActualHours.empty().add(START, 1, 1);
    expect(old.at(START)).toEqual({ netW: 2, batteryW: 1 });
    const later = old.add(START + 3600, 1, 1, START + 3600);
    expect(later.at(START)).toBeNull();
    expect(old.at(START)).not.toBeNull(); // the old one is unchanged
  });

  it("formats the expected saving with its currency", () => {
    expect(formatSaving(3.2, "EUR")).toBe("3.20 EUR");
    expect(formatSaving(-0.5, null)).toBe("-0.50");
    expect(formatSaving(null, "EUR")).toBe("—");
  });
});
