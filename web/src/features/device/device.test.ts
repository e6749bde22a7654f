import { describe, expect, it } from "vitest";
import { deviceChannels, formatChannelValue, sparklinePath } from "./device";

describe("device page", () => {
  it("lists the device's channels only, by name", () => {
    const t = "2026-06-21T10:00:00Z";
    const list = deviceChannels(
      { "battery_1/Soc": { v: 50, t }, "battery_1/ActivePower": { v: -200, t }, "pv_1/ActivePower": { v: 1, t }, "battery_10/Soc": { v: 1, t } },
      "battery_1",
    );
    expect(list.map((c) => c.name)).toEqual(["ActivePower", "Soc"]);
    expect(list[0]?.address).toBe("battery_1/ActivePower");
  });

  it("formats values with their unit, missing as a dash", () => {
    expect(formatChannelValue(-2000, "W")).toBe("-2,000 W");
    expect(formatChannelValue(51.234, "%")).toBe("51.23 %");
    expect(formatChannelValue(null, "W")).toBe("—");
    expect(formatChannelValue(true, null)).toBe("true");
    expect(formatChannelValue("Running", undefined)).toBe("Running");
  });

  it("draws the trend scaled to the box, breaks at gaps, flat in the middle", () => {
    expect(sparklinePath([], 100, 20)).toBe("");
    expect(sparklinePath([{ t: 0, v: 0 }, { t: 5, v: 10 }, { t: 10, v: 5 }], 100, 20)).toBe("M0.0,20.0L50.0,0.0L100.0,10.0");
    expect(sparklinePath([{ t: 0, v: 1 }, { t: 5, v: null }, { t: 10, v: 2 }], 100, 20)).toBe("M0.0,20.0M100.0,0.0");
    expect(sparklinePath([{ t: 0, v: 3 }, { t: 10, v: 3 }], 100, 20)).toBe("M0.0,10.0L100.0,10.0");
  });
});
