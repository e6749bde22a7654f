import { describe, expect, it } from "vitest";
import { historyToAligned, LiveBuffer } from "./series";

const at = (s: number) => new Date(s * 1000).toISOString();

describe("LiveBuffer", () => {
  it("keeps the last window and leaves gaps for missing values", () => {
    const b = new LiveBuffer(["grid/ActivePower", "battery_1/Soc"], 10);
    b.push(100, { "grid/ActivePower": { v: 1, t: at(100) }, "battery_1/Soc": { v: 50, t: at(100) } });
    b.push(105, { "grid/ActivePower": { v: 2, t: at(105) } });
    b.push(105, { "grid/ActivePower": { v: 9, t: at(105) } }); // a repeat
    b.push(112, { "grid/ActivePower": { v: 3, t: at(112) }, "battery_1/Soc": { v: "n/a", t: at(112) } });
    expect(b.data()).toEqual([
      [105, 112],
      [2, 3],
      [null, null],
    ]);
  });

  it("puts history before the live values", () => {
    const b = new LiveBuffer(["grid/ActivePower"], 900);
    b.push(1000, { "grid/ActivePower": { v: 5, t: at(1000) } });
    b.seed([[980, 990, 1000], [1, 2, 3]]);
    expect(b.data()).toEqual([[980, 990, 1000], [1, 2, 5]]);
  });
});

describe("historyToAligned", () => {
  it("aligns the channels' buckets on one time axis", () => {
    const data = historyToAligned(
      {
        edge_id: "site-1",
        start: 0,
        end: 100,
        channels: {
          a: [{ time_s: 10, avg: 1, min: 1, max: 1 }, { time_s: 20, avg: 2, min: 2, max: 2 }],
          b: [{ time_s: 20, avg: 7, min: 7, max: 7 }],
        },
      },
      ["a", "b", "c"],
    );
    expect(data).toEqual([
      [10, 20],
      [1, 2],
      [null, 7],
      [null, null],
    ]);
  });
});
