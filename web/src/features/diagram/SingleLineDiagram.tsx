"use client";

import type { Channels } from "@/lib/frames";
import {
  flowOf,
  freshnessWords,
  reading,
  shownPower,
  type Branch,
  type Flow,
  type Reading,
  type SiteChannels,
} from "./flow";

interface Props {
  channels: Channels | undefined;
  devices: SiteChannels;
  nowMs: number;
  staleAfterS: number;
  /** The cloud marks the edge stale: connected, but no frame for a while. */
  edgeSilent?: boolean;
}

const NAMES: Record<Branch, string> = { grid: "Grid", pv: "PV", battery: "Battery", load: "Load" };

/**
 * The site as a single-line diagram: grid, PV, battery and load around the
 * site's bus, each with its power and an arrow in the direction of the flow.
 */
export function SingleLineDiagram({ channels, devices, nowMs, staleAfterS, edgeSilent = false }: Props) {
  const power = (device: string | null): Reading =>
    device
      ? reading(channels, `${device}/ActivePower`, nowMs, staleAfterS)
      : { value: null, freshness: "missing", ageS: null };
  const soc = devices.battery
    ? reading(channels, `${devices.battery}/Soc`, nowMs, staleAfterS)
    : ({ value: null, freshness: "missing", ageS: null } satisfies Reading);
  const branches: Record<Branch, Reading> = {
    grid: power(devices.grid),
    pv: power(devices.pv),
    battery: power(devices.battery),
    load: power(devices.load),
  };
  const flows = Object.fromEntries(
    (Object.keys(branches) as Branch[]).map((b) => [b, flowOf(b, branches[b])]),
  ) as Record<Branch, Flow>;

  return (
    <figure className="sld" aria-labelledby="sld-caption" data-edge-silent={edgeSilent}>
      <figcaption id="sld-caption" className="sr-only">
        Single-line diagram of the site: power flows between grid, PV, battery, load and the
        site&apos;s bus.
      </figcaption>
      {edgeSilent && (
        <p className="badge badge-warn" role="status" data-testid="edge-silent">
          Stale: the edge is connected but has gone silent; these values may be frozen.
        </p>
      )}
      <div className="sld-grid">
        <BranchCard branch="pv" r={branches.pv} flow={flows.pv} area="pv" />
        <Wire branch="pv" r={branches.pv} flow={flows.pv} axis="vertical" area="w-pv" from="start" />
        <BranchCard branch="grid" r={branches.grid} flow={flows.grid} area="grid" />
        <Wire branch="grid" r={branches.grid} flow={flows.grid} axis="horizontal" area="w-grid" from="start" />
        <div className="sld-bus" style={{ gridArea: "bus" }} aria-hidden="true">
          <span>Site</span>
        </div>
        <Wire branch="load" r={branches.load} flow={flows.load} axis="horizontal" area="w-load" from="end" />
        <BranchCard branch="load" r={branches.load} flow={flows.load} area="load" />
        <Wire branch="battery" r={branches.battery} flow={flows.battery} axis="vertical" area="w-battery" from="end" />
        <BranchCard branch="battery" r={branches.battery} flow={flows.battery} area="battery" soc={soc} />
      </div>
    </figure>
  );
}

function BranchCard({
  branch,
  r,
  flow,
  area,
  soc,
}: {
  branch: Branch;
  r: Reading;
  flow: Flow;
  area: string;
  soc?: Reading;
}) {
  const mark = freshnessWords(r);
  return (
    <section
      className={`sld-card fresh-${r.freshness}`}
      style={{ gridArea: area }}
      aria-label={NAMES[branch]}
      data-testid={`branch-${branch}`}
      data-direction={flow.direction}
      data-freshness={r.freshness}
      data-sampled-at={r.at}
    >
      <h3>{NAMES[branch]}</h3>
      <p
        className="sld-value"
        data-testid={`value-${branch}`}
        title={r.at ? `measured ${new Date(r.at).toLocaleTimeString()}` : undefined}
      >
        {shownPower(r)}
      </p>
      <p className="sld-words">{flow.words}</p>
      {mark && (
        <p className="badge badge-warn" role="status">
          {mark}
        </p>
      )}
      {soc && (
        <p className={`sld-soc fresh-${soc.freshness}`} data-testid="value-soc">
          SOC {soc.value === null ? "—" : `${soc.value.toFixed(1)} %`}
          {soc.freshness !== "live" && (
            <span className="badge badge-warn"> {freshnessWords(soc)}</span>
          )}
        </p>
      )}
    </section>
  );
}

/**
 * A wire between a branch and the bus. `from` says where the branch sits on
 * the wire (start: top/left, end: bottom/right); the arrow points the way the
 * power flows, and moves only while the value is live.
 */
function Wire({
  branch,
  r,
  flow,
  axis,
  area,
  from,
}: {
  branch: Branch;
  r: Reading;
  flow: Flow;
  axis: "horizontal" | "vertical";
  area: string;
  from: "start" | "end";
}) {
  // Towards the bus from a branch at the start means "forward" along the wire.
  const forward = flow.towardsBus === null ? null : flow.towardsBus === (from === "start");
  const arrow =
    forward === null
      ? ""
      : axis === "horizontal"
        ? forward
          ? "→"
          : "←"
        : forward
          ? "↓"
          : "↑";
  const moving = r.freshness === "live" && forward !== null;
  return (
    <div
      className={`sld-wire sld-wire-${axis} ${moving ? (forward ? "flow-fwd" : "flow-back") : "flow-none"} fresh-${r.freshness}`}
      style={{ gridArea: area }}
      data-testid={`wire-${branch}`}
      aria-hidden="true"
    >
      <span className="sld-arrow">{arrow}</span>
    </div>
  );
}
