import { describe, expect, it } from "vitest";
import type { ControllerInfo, ParamSpec } from "@/lib/api";
import type { Channels } from "@/lib/frames";
import { checkSettings, currentValues, statusChannel, whoIsInCharge } from "./settings";

const number = (name: string, extra: Partial<ParamSpec> = {}): ParamSpec => ({
  name,
  type: "number",
  unit: "W",
  min: null,
  max: null,
  below: null,
  ...extra,
});
const PEAK: ParamSpec[] = [number("peak_import_w", { min: 0 }), number("recharge_below_w", { min: 0, below: "peak_import_w" })];
const SC: ParamSpec[] = [{ ...number("enabled"), type: "boolean", unit: null }, number("target_grid_w")];

describe("checkSettings", () => {
  it("sends only what changed", () => {
    const r = checkSettings(SC, { target_grid_w: "-300", enabled: true }, { target_grid_w: 0, enabled: true });
    expect(r.errors).toEqual({});
    expect(r.changes).toEqual({ target_grid_w: -300 });
  });

  it("refuses what is not a number, and an empty field", () => {
    expect(checkSettings(SC, { target_grid_w: "abc" }, {}).errors.target_grid_w).toBe("Enter a number.");
    expect(checkSettings(SC, { target_grid_w: " " }, {}).errors.target_grid_w).toBe("Enter a number.");
  });

  it("refuses a negative threshold", () => {
    const r = checkSettings(PEAK, { peak_import_w: "-1" }, { peak_import_w: 5000, recharge_below_w: 2000 });
    expect(r.errors.peak_import_w).toBe("At least 0 W.");
    expect(r.changes).toEqual({});
  });

  it("keeps the recharge level below the peak, against the value in force too", () => {
    const current = { peak_import_w: 5000, recharge_below_w: 2000 };
    expect(checkSettings(PEAK, { recharge_below_w: "5000" }, current).errors.recharge_below_w).toMatch(/below peak import w/);
    expect(checkSettings(PEAK, { peak_import_w: "1500" }, current).errors.recharge_below_w).toMatch(/below/);
    const both = checkSettings(PEAK, { peak_import_w: "1500", recharge_below_w: "1000" }, current);
    expect(both.errors).toEqual({});
    expect(both.changes).toEqual({ peak_import_w: 1500, recharge_below_w: 1000 });
  });

  it("switches a controller off", () => {
    expect(checkSettings(SC, { enabled: false }, { enabled: true }).changes).toEqual({ enabled: false });
  });
});

const sample = (v: string | number | boolean) => ({ v, t: "2026-01-01T00:00:00Z" });
const CONTROLLERS: ControllerInfo[] = [
  { id: "self_consumption", type: "self_consumption", priority: 10, params: SC },
  { id: "peak_shaving", type: "peak_shaving", priority: 20, params: PEAK },
  { id: "manual_override", type: "manual_override", priority: 100, params: [] },
];

describe("whoIsInCharge", () => {
  it("is manual override in manual mode", () => {
    const channels: Channels = { "manual_override/Mode": sample("manual"), "peak_shaving/State": sample("shaving") };
    const r = whoIsInCharge(CONTROLLERS, channels);
    expect([r.mode, r.controller?.id, r.state]).toEqual(["manual", "manual_override", "manual"]);
  });

  it("is the most important automatic controller that acts", () => {
    const shaving: Channels = {
      "manual_override/Mode": sample("auto"),
      "peak_shaving/State": sample("shaving"),
      "self_consumption/State": sample("discharging"),
    };
    expect(whoIsInCharge(CONTROLLERS, shaving).controller?.id).toBe("peak_shaving");
    const standby = { ...shaving, "peak_shaving/State": sample("standby") };
    const r = whoIsInCharge(CONTROLLERS, standby);
    expect([r.mode, r.controller?.id, r.state]).toEqual(["auto", "self_consumption", "discharging"]);
  });

  it("is nobody when every controller stands aside", () => {
    const channels: Channels = { "peak_shaving/State": sample("standby"), "self_consumption/State": sample("disabled") };
    expect(whoIsInCharge(CONTROLLERS, channels).controller).toBeNull();
  });
});

describe("currentValues", () => {
  it("reads the parameters from their status channels", () => {
    expect(statusChannel("self_consumption", "target_grid_w")).toBe("self_consumption/TargetGridW");
    const channels: Channels = { "self_consumption/TargetGridW": sample(-300), "self_consumption/Enabled": sample(true) };
    expect(currentValues(CONTROLLERS[0]!, channels)).toEqual({ enabled: true, target_grid_w: -300 });
    expect(currentValues(CONTROLLERS[0]!, undefined)).toEqual({ enabled: null, target_grid_w: null });
  });
});
