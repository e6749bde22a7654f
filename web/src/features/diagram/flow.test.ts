import { describe, expect, it } from "vitest";
import { flowOf, freshnessWords, reading, shownPower, siteDevices, type Reading } from "./flow";

const NOW = Date.parse("2026-06-21T12:00:10.000Z");
const live = (value: number): Reading => ({ value, freshness: "live", ageS: 0 });

describe("flow direction follows the sign conventions", () => {
  it.each([
    ["battery", 1500, "discharging", true],
    ["battery", -1500, "charging", false],
    ["grid", 800, "importing", true],
    ["grid", -800, "exporting", false],
    ["pv", 3000, "producing", true],
    ["load", 700, "consuming", false],
  ] as const)("%s at %d W is %s", (branch, w, direction, towardsBus) => {
    expect(flowOf(branch, live(w))).toMatchObject({ direction, towardsBus });
  });

  it("counts a few watts either way as idle", () => {
    expect(flowOf("battery", live(3)).direction).toBe("idle");
    expect(flowOf("grid", live(-4.9)).towardsBus).toBeNull();
    expect(flowOf("grid", live(5)).direction).toBe("importing");
  });

  it("has no direction without data", () => {
    expect(flowOf("grid", { value: null, freshness: "missing", ageS: null })).toEqual({
      direction: "unknown",
      towardsBus: null,
      words: "no data",
    });
  });
});

describe("reading: stale and missing values are never zero", () => {
  const channels = {
    "grid/ActivePower": { v: 800, t: "2026-06-21T12:00:09.000Z" },
    "pv_1/ActivePower": { v: 0, t: "2026-06-21T11:59:00.000Z" },
    "load/ActivePower": { v: null, t: "2026-06-21T12:00:09.000Z" },
    "battery_1/State": { v: "idle", t: "2026-06-21T12:00:09.000Z" },
  };

  it("is live within the stale limit", () => {
    expect(reading(channels, "grid/ActivePower", NOW, 5)).toEqual({
      value: 800,
      freshness: "live",
      ageS: 1,
      at: "2026-06-21T12:00:09.000Z",
    });
  });

  it("is stale past the limit and says how old", () => {
    const r = reading(channels, "pv_1/ActivePower", NOW, 5);
    expect(r.freshness).toBe("stale");
    expect(freshnessWords(r)).toBe("stale: 70 s old");
  });

  it.each(["load/ActivePower", "battery_1/State", "battery_1/ActivePower"])("%s is missing", (address) => {
    const r = reading(channels, address, NOW, 5);
    expect(r).toEqual({ value: null, freshness: "missing", ageS: null });
    expect(shownPower(r)).toBe("—");
    expect(freshnessWords(r)).toBe("no data");
  });

  it("prints magnitudes; the direction is said in words", () => {
    expect(shownPower(live(-2420))).toBe("2.42 kW");
    expect(shownPower(live(493.4))).toBe("493 W");
    expect(shownPower(live(0))).toBe("0 W");
  });
});

describe("siteDevices", () => {
  it("finds each branch by its profile", () => {
    expect(
      siteDevices([
        { id: "ess_2", profile: "battery" },
        { id: "meter", profile: "grid_meter" },
      ]),
    ).toEqual({ battery: "ess_2", grid: "meter", pv: null, load: null });
  });

  it("falls back to the demo ids before the inventory is known", () => {
    expect(siteDevices(undefined)).toEqual({ battery: "battery_1", grid: "grid", pv: "pv_1", load: "load" });
  });
});
