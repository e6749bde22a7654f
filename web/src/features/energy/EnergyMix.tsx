import { energyMix, formatKwh, formatPct, type EnergyTotals } from "./energy";

const COLOUR = { solar: "var(--pv, #e0a800)", battery: "var(--discharge)", grid: "var(--bad)" } as const;
const NAME = { solar: "Solar", battery: "Battery", grid: "Grid" } as const;

/** The share of solar, battery and grid in what the site consumed, as one stacked bar. */
export function EnergyMix({ totals }: { totals: EnergyTotals }) {
  const mix = energyMix(totals);
  return (
    <section className="panel" aria-labelledby="energy-mix-title" data-testid="energy-mix">
      <h2 id="energy-mix-title">Energy mix</h2>
      {mix === null ? (
        <p className="muted">Nothing consumed in this range.</p>
      ) : (
        <>
          <div className="mix-bar" aria-hidden="true">
            {mix.map((m) => (
              <span key={m.source} style={{ width: `${m.pct}%`, background: COLOUR[m.source] }} />
            ))}
          </div>
          <dl className="totals">
            {mix.map((m) => (
              <div key={m.source}>
                <dt>{NAME[m.source]}</dt>
                <dd data-testid={`mix-${m.source}`}>
                  {formatPct(m.pct)} <span className="muted">({formatKwh(m.kwh)})</span>
                </dd>
              </div>
            ))}
          </dl>
        </>
      )}
    </section>
  );
}
