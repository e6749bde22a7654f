"use client";

import Link from "next/link";
import { useEffect, useMemo, useState } from "react";
import { env } from "@/config/env";
import { useNow } from "@/components/useNow";
import { useSession } from "@/features/auth/SessionProvider";
import { canCommand } from "@/features/auth/tokens";
import { SiteCharts } from "@/features/charts/SiteCharts";
import { CommandPanel } from "@/features/commands/CommandPanel";
import { ControlPanel } from "@/features/control/ControlPanel";
import { isFinal, newestFirst } from "@/features/commands/tracker";
import { formatAge, reading, siteDevices } from "@/features/diagram/flow";
import { SingleLineDiagram } from "@/features/diagram/SingleLineDiagram";
import { CommandHistory } from "@/features/history/CommandHistory";
import { useLive } from "@/features/live/LiveProvider";
import { HaPairBadge } from "@/features/ha/HaPairBadge";
import { PlanPanel } from "@/features/plan/PlanPanel";
import { EdgeStateBadge } from "@/features/sites/EdgeStateBadge";
import { edgeState } from "@/features/sites/edgeState";
import { edgesSchema, getJson, type Edge } from "@/lib/api";

/** One site: live diagram, commands, charts and command history. */
export function SitePage({ edgeId }: { edgeId: string }) {
  const { session, token } = useSession();
  const live = useLive();
  const now = useNow(1000, live.clockOffsetMs);
  const [edge, setEdge] = useState<Edge | null | undefined>(undefined);
  const staleAfterS = env.NEXT_PUBLIC_EMS_STALE_AFTER_S;

  const { subscribe } = live;
  useEffect(() => subscribe(edgeId), [subscribe, edgeId]);

  useEffect(() => {
    const access = token();
    if (!access) return;
    getJson(env.NEXT_PUBLIC_EMS_API_BASE, "/api/edges", access, edgesSchema)
      .then((body) => setEdge(body.edges.find((e) => e.edge_id === edgeId) ?? null))
      .catch(() => setEdge(null));
  }, [edgeId, token]);

  const devices = useMemo(() => siteDevices(edge?.devices), [edge]);
  const latest = live.telemetry.get(edgeId);
  const status = live.edgeStatus.get(edgeId);
  const online = status?.online ?? edge?.online ?? null;
  const stale = online === true && (status ? status.stale : (edge?.stale ?? false));
  const lastSeen = status?.last_seen ?? edge?.last_seen ?? null;
  const commands = newestFirst(live.commands, edgeId);
  // The history reloads whenever one of our commands here finishes.
  const finished = commands.filter((c) => isFinal(c.current.status)).length;
  const frameAgeS = latest ? (now - Date.parse(latest.ts)) / 1000 : null;

  const battery = devices.battery;
  const maxCharge = battery
    ? reading(latest?.channels, `${battery}/MaxChargePower`, now, staleAfterS)
    : null;
  const maxDischarge = battery
    ? reading(latest?.channels, `${battery}/MaxDischargePower`, now, staleAfterS)
    : null;

  return (
    <div className="site">
      <div className="site-head">
        <h1>{edgeId}</h1>
        {online !== null && <EdgeStateBadge state={edgeState(online, stale)} testId="site-online" />}
        {lastSeen && (
          <span className="muted small">last seen {new Date(lastSeen).toLocaleString("en-GB")}</span>
        )}
        <Link href={`/reports/?id=${encodeURIComponent(edgeId)}`}>Reports</Link>
        {session?.role === "admin" && (
          <Link href={`/config/?id=${encodeURIComponent(edgeId)}`} data-testid="site-config-link">
            Configuration
          </Link>
        )}
      </div>
      <nav className="field-row small" aria-label={`Pages of ${edgeId}`} data-testid="site-links">
        <Link href={`/energy/?id=${encodeURIComponent(edgeId)}`}>Energy</Link>
        <Link href={`/alarms/?site=${encodeURIComponent(edgeId)}`}>Alarms</Link>
        {(edge?.devices ?? []).map((d) => (
          <Link key={d.id} href={`/device/?site=${encodeURIComponent(edgeId)}&id=${encodeURIComponent(d.id)}`}>
            Device {d.id}
          </Link>
        ))}
      </nav>
      <HaPairBadge channels={latest?.channels} />
      {edge === null && <p className="badge badge-warn">This site has not reported its devices; showing the usual ones.</p>}
      {latest === undefined ? (
        <p className="badge badge-warn" role="status" data-testid="no-telemetry">
          No telemetry received yet: values are missing, not zero.
        </p>
      ) : frameAgeS !== null && frameAgeS > staleAfterS ? (
        <p className="badge badge-warn" role="status" data-testid="stale-telemetry">
          No telemetry for {formatAge(frameAgeS)}: the values shown are stale.
        </p>
      ) : null}
      <div className="site-grid">
        <section className="panel" aria-labelledby="sld-h">
          <h2 id="sld-h">Power flow</h2>
          <SingleLineDiagram
            channels={latest?.channels}
            devices={devices}
            nowMs={now}
            staleAfterS={staleAfterS}
            edgeSilent={stale}
          />
          <p className="muted small">
            {latest ? `Updated ${new Date(latest.ts).toLocaleTimeString("en-GB")}` : "Waiting for the first values…"}
          </p>
        </section>
        {session && canCommand(session.role) && battery && maxCharge && maxDischarge ? (
          <CommandPanel
            edgeId={edgeId}
            battery={battery}
            maxCharge={maxCharge}
            maxDischarge={maxDischarge}
            online={online}
            send={live.sendCommand}
            commands={commands}
          />
        ) : session && !canCommand(session.role) ? (
          <section className="panel">
            <h2>Commands</h2>
            <p className="muted" data-testid="read-only">
              Your role ({session.role}) may watch but not send commands.
            </p>
          </section>
        ) : null}
      </div>
      <ControlPanel
        edgeId={edgeId}
        controllers={edge?.controllers ?? []}
        channels={latest?.channels}
        send={session && canCommand(session.role) ? live.sendCommand : null}
        commands={commands}
      />
      <PlanPanel
        edgeId={edgeId}
        channels={latest?.channels}
        battery={battery}
        grid={devices.grid}
        onTelemetry={live.onTelemetry}
      />
      <SiteCharts edgeId={edgeId} devices={devices} token={token} onTelemetry={live.onTelemetry} />
      <CommandHistory edgeId={edgeId} token={token} version={finished} />
    </div>
  );
}
