import { bucketLabel, formatKwh, type EnergyAnswer } from "./energy";

/** The series the chart draws, each with its colour (CSS variables of globals.css). */
const SERIES = [
  ["consumed_kwh", "Consumed", "var(--ink)"],
  ["generated_kwh", "Generated", "var(--pv, #e0a800)"],
  ["charged_kwh", "Stored", "var(--charge)"],
  ["imported_kwh", "Imported", "var(--bad)"],
  ["exported_kwh", "Exported", "var(--good)"],
] as const;
const HEIGHT = 180;
const BAR_W = 3;

/** Grouped bars per bucket, drawn in SVG; a table of the same figures for screen readers. */
export function EnergyBars({ answer }: { answer: EnergyAnswer }) {
  const rows = answer.series;
  const top = Math.max(0.001, ...rows.flatMap((r) => SERIES.map(([key]) => r[key])));
  const group = SERIES.length * BAR_W + 4;
  const width = rows.length * group;
  return (
    <>
      <svg
        viewBox={`0 0 ${width} ${HEIGHT}`}
        preserveAspectRatio="none"
        className="energy-bars"
        role="img"
        aria-label={`Energy per ${answer.bucket}, up to ${formatKwh(top)}`}
        data-testid="energy-chart"
      >
        {rows.map((r, i) =>
          SERIES.map(([key, name, colour], j) => {
            const h = (r[key] / top) * HEIGHT;
            return (
              <rect key={`${i}-${key}`} x={i * group + j * BAR_W} y={HEIGHT - h} width={BAR_W} height={h} fill={colour}>
                <title>
                  {bucketLabel(r.start_s, answer.bucket)} {name}: {formatKwh(r[key])}
                </title>
              </rect>
            );
          }),
        )}
      </svg>
      <p className="legend small">
        {SERIES.map(([key, name, colour]) => (
          <span key={key}>
            <span className="swatch" style={{ background: colour }} aria-hidden="true" /> {name}
          </span>
        ))}
      </p>
      <details>
        <summary>Figures per {answer.bucket}</summary>
        <table className="channels small">
          <thead>
            <tr>
              <th scope="col">{answer.bucket === "day" ? "Day (UTC)" : "Hour (UTC)"}</th>
              {SERIES.map(([key, name]) => (
                <th key={key} scope="col">
                  {name} [kWh]
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.start_s}>
                <th scope="row">{bucketLabel(r.start_s, answer.bucket)}</th>
                {SERIES.map(([key]) => (
                  <td key={key}>{r[key].toFixed(2)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </>
  );
}
