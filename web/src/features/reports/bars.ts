/** Geometry of the energy bar chart: consumption and production side by side per bucket. */

export interface BarRow {
  label: string;
  consumption_kwh: number;
  production_kwh: number;
}

export interface Bar {
  x: number;
  y: number;
  width: number;
  height: number;
  kind: "consumption" | "production";
  label: string;
  value: number;
}

/** Bars scaled so the largest value fills `height`; each bucket gets an equal slot. */
export function layoutBars(rows: BarRow[], width: number, height: number): { bars: Bar[]; maxKwh: number } {
  const maxKwh = Math.max(0, ...rows.flatMap((r) => [r.consumption_kwh, r.production_kwh]));
  if (rows.length === 0 || maxKwh <= 0) return { bars: [], maxKwh };
  const slot = width / rows.length;
  const barW = slot * 0.4;
  const bars: Bar[] = [];
  rows.forEach((r, i) => {
    const pairs: [Bar["kind"], number][] = [
      ["consumption", r.consumption_kwh],
      ["production", r.production_kwh],
    ];
    pairs.forEach(([kind, value], j) => {
      const h = (Math.max(value, 0) / maxKwh) * height;
      bars.push({ x: i * slot + slot * 0.1 + j * barW, y: height - h, width: barW, height: h, kind, label: r.label, value });
    });
  });
  return { bars, maxKwh };
}
