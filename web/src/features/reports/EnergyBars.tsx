import { layoutBars, type BarRow } from "./bars";

const WIDTH = 720;
const HEIGHT = 180;

/** Consumption (grey) and production (yellow) per hour or day, as in the PDF. */
export function EnergyBars({ rows, unit }: { rows: BarRow[]; unit: string }) {
  const { bars, maxKwh } = layoutBars(rows, WIDTH, HEIGHT);
  if (bars.length === 0) return <p className="muted">No energy in this period.</p>;
  return (
    <figure>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT + 16}`} width="100%" role="img" aria-label={`Energy chart, ${unit}`}>
        {bars.map((b) => (
          <rect
            key={`${b.label}-${b.kind}`}
            x={b.x}
            y={b.y}
            width={b.width}
            height={b.height}
            fill={b.kind === "consumption" ? "#555555" : "#f2b705"}
          >
            <title>
              {b.label} {b.kind} {b.value.toFixed(2)} kWh
            </title>
          </rect>
        ))}
        <text x={0} y={HEIGHT + 12} fontSize={10}>
          {rows[0]?.label}
        </text>
        <text x={WIDTH} y={HEIGHT + 12} fontSize={10} textAnchor="end">
          {rows[rows.length - 1]?.label}
        </text>
      </svg>
      <figcaption className="muted">
        {unit}: consumption (grey), production (yellow); top of scale {maxKwh.toFixed(1)} kWh
      </figcaption>
    </figure>
  );
}
