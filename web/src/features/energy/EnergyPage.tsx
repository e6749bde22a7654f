"use client";

import Link from "next/link";
import { useEffect, useState } from "react";
import { env } from "@/config/env";
import { useSession } from "@/features/auth/SessionProvider";
import { getJson } from "@/lib/api";
import { EnergyBars } from "./EnergyBars";
import { EnergyMix } from "./EnergyMix";
import { energyPath, energySchema, formatKwh, type BucketKind, type EnergyAnswer } from "./energy";

const DAY_MS = 86_400_000;
const TOTALS: [keyof EnergyAnswer["totals"], string][] = [
  ["consumed_kwh", "Consumed"],
  ["generated_kwh", "Generated"],
  ["charged_kwh", "Stored (charged)"],
  ["discharged_kwh", "Discharged"],
  ["imported_kwh", "Imported"],
  ["exported_kwh", "Exported"],
];

function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A site's energy per hour or day over whole UTC days, its totals and its mix. */
export function EnergyPage({ edgeId }: { edgeId: string }) {
  const { token } = useSession();
  const [from, setFrom] = useState(() => utcDate(Date.now() - 6 * DAY_MS));
  const [to, setTo] = useState(() => utcDate(Date.now()));
  const [bucket, setBucket] = useState<BucketKind>("hour");
  const [answer, setAnswer] = useState<EnergyAnswer | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const path = energyPath(edgeId, from, to, bucket);

  useEffect(() => {
    if (!path) return undefined;
    let stopped = false;
    void (async () => {
      const access = token();
      if (!access) return;
      try {
        const body = await getJson(env.NEXT_PUBLIC_EMS_API_BASE, path, access, energySchema);
        if (!stopped) {
          setAnswer(body);
          setProblem(null);
        }
      } catch (err) {
        if (!stopped) setProblem(err instanceof Error ? err.message : "energy unavailable");
      }
    })();
    return () => {
      stopped = true;
    };
  }, [token, path]);

  return (
    <>
      <p className="small">
        <Link href={`/site/?id=${encodeURIComponent(edgeId)}`}>← {edgeId}</Link>
      </p>
      <h1>Energy of {edgeId}</h1>
      <form className="field-row panel" aria-label="Range" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="energy-from">From (UTC day)</label>
          <input id="energy-from" type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="energy-to">To (UTC day, included)</label>
          <input id="energy-to" type="date" value={to} onChange={(e) => setTo(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="energy-bucket">Per</label>
          <select id="energy-bucket" value={bucket} onChange={(e) => setBucket(e.target.value as BucketKind)}>
            <option value="hour">Hour</option>
            <option value="day">Day</option>
          </select>
        </div>
      </form>
      {!path && <p className="badge badge-bad" role="alert">Choose a range whose end is not before its start.</p>}
      {problem && <p className="badge badge-bad" role="alert">Energy unavailable: {problem}</p>}
      {answer && path && (
        <div className="site-grid" data-testid="energy" data-buckets={answer.series.length}>
          <section className="panel" aria-labelledby="energy-chart-title">
            <h2 id="energy-chart-title">Energy per {answer.bucket}</h2>
            {answer.series.length === 0 ? <p className="muted">No data in this range.</p> : <EnergyBars answer={answer} />}
          </section>
          <div>
            <section className="panel" aria-labelledby="energy-totals-title">
              <h2 id="energy-totals-title">Totals</h2>
              <dl className="totals">
                {TOTALS.map(([key, label]) => (
                  <div key={key}>
                    <dt>{label}</dt>
                    <dd data-testid={`total-${key.replace("_kwh", "")}`}>{formatKwh(answer.totals[key])}</dd>
                  </div>
                ))}
              </dl>
            </section>
            <EnergyMix totals={answer.totals} />
          </div>
        </div>
      )}
    </>
  );
}
