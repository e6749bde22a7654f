import { describe, expect, it } from "vitest";
import { bucketLabel, energyMix, energyPath, formatKwh, formatPct } from "./energy";

describe("energy", () => {
  it("asks for whole UTC days, both ends included, and refuses a reversed range", () => {
    const path = energyPath("site-1", "2026-06-20", "2026-06-21", "hour");
    expect(path).not.toBeNull();
    const query = new URLSearchParams((path ?? "").split("?")[1]);
    expect(query.get("from")).toBe("2026-06-20T00:00:00.000Z");
    expect(query.get("to")).toBe("2026-06-22T00:00:00.000Z");
    expect(query.get("bucket")).toBe("hour");
    expect(query.get("edge_id")).toBe("site-1");
    expect(energyPath("site-1", "2026-06-21", "2026-06-20", "day")).toBeNull();
    expect(energyPath("site-1", "", "2026-06-20", "day")).toBeNull();
  });

  it("splits consumption into solar, battery and grid", () => {
    const mix = energyMix({ consumed_kwh: 10, imported_kwh: 2, discharged_kwh: 3 });
    expect(mix?.map((m) => [m.source, m.kwh])).toEqual([
      ["solar", 5],
      ["battery", 3],
      ["grid", 2],
    ]);
    expect(mix?.map((m) => m.pct)).toEqual([50, 30, 20]);
    const sum = (energyMix({ consumed_kwh: 7.3, imported_kwh: 1.1, discharged_kwh: 0.4 }) ?? []).reduce((a, m) => a + m.pct, 0);
    expect(sum).toBeCloseTo(100, 10);
  });

  it("never gives solar a negative share, and has no mix without consumption", () => {
    // More import than consumption (the battery charged from the grid): no solar, no negative share.
    const mix = energyMix({ consumed_kwh: 4, imported_kwh: 5, discharged_kwh: 1 });
    expect(mix?.find((m) => m.source === "solar")?.kwh).toBe(0);
    expect(mix?.find((m) => m.source === "grid")?.pct).toBeCloseTo(100 * (5 / 6));
    expect(energyMix({ consumed_kwh: 0, imported_kwh: 0, discharged_kwh: 0 })).toBeNull();
  });

  it("formats energy, shares and bucket labels", () => {
    expect(formatKwh(1234.5)).toBe("1,234.50 kWh");
    expect(formatKwh(0.004)).toBe("0.00 kWh");
    expect(formatPct(33.333)).toBe("33.3 %");
    const t = Date.parse("2026-06-21T14:00:00Z") / 1000;
    expect(bucketLabel(t, "hour")).toBe("06-21 14:00");
    expect(bucketLabel(t, "day")).toBe("2026-06-21");
  });
});
