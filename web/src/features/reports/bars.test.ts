import { describe, expect, it } from "vitest";
import { layoutBars } from "./bars";

describe("layoutBars", () => {
  it("scales the tallest bar to the full height and keeps buckets apart", () => {
    const { bars, maxKwh } = layoutBars(
      [
        { label: "03-01", consumption_kwh: 10, production_kwh: 5 },
        { label: "03-02", consumption_kwh: 20, production_kwh: 0 },
      ],
      200,
      100,
    );
    expect(maxKwh).toBe(20);
    expect(bars).toHaveLength(4);
    const tallest = bars.find((b) => b.label === "03-02" && b.kind === "consumption");
    expect(tallest?.height).toBe(100);
    expect(tallest?.y).toBe(0);
    expect(bars[0]?.height).toBe(50);
    expect(bars[2]?.x).toBeGreaterThanOrEqual(100); // the second bucket's slot
  });

  it("draws nothing for an empty or all-zero period", () => {
    expect(layoutBars([], 200, 100).bars).toEqual([]);
    expect(layoutBars([{ label: "x", consumption_kwh: 0, production_kwh: 0 }], 200, 100).bars).toEqual([]);
  });
});
