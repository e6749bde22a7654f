"use client";

import Link from "next/link";
import { useEffect, useState } from "react";
import { env } from "@/config/env";
import { formatAge } from "@/features/diagram/flow";
import { edgesSchema, getJson, type Edge } from "@/lib/api";
import { EdgeStateBadge } from "./EdgeStateBadge";
import { edgeState } from "./edgeState";

const POLL_MS = 10_000;

/** The sites the user may see, online or not, and when each was last heard of. */
export function SiteList({ token, nowMs }: { token: () => string | null; nowMs: number }) {
  const [edges, setEdges] = useState<Edge[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    let stopped = false;
    const load = async () => {
      const access = token();
      if (!access) return;
      try {
        const body = await getJson(env.NEXT_PUBLIC_EMS_API_BASE, "/api/edges", access, edgesSchema);
        if (!stopped) {
          setEdges(body.edges);
          setProblem(null);
        }
      } catch (err) {
        if (!stopped) setProblem(err instanceof Error ? err.message : "sites unavailable");
      }
    };
    void load();
    const timer = setInterval(() => void load(), POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [token]);

  if (problem && !edges) return <p className="badge badge-bad" role="alert">Sites unavailable: {problem}</p>;
  if (!edges) return <p className="muted">Loading sites…</p>;
  if (edges.length === 0) return <p className="muted">No site has connected yet.</p>;
  return (
    <ul className="sites" data-testid="sites">
      {edges.map((edge) => (
        <li
          key={edge.edge_id}
          className="panel site-card"
          data-online={edge.online}
          data-state={edgeState(edge.online, edge.stale)}
        >
          <h2>
            <Link href={`/site/?id=${encodeURIComponent(edge.edge_id)}`}>{edge.edge_id}</Link>
          </h2>
          <p>
            <EdgeStateBadge state={edgeState(edge.online, edge.stale)} />{" "}
            <span className="muted">
              {edge.last_seen
                ? `last seen ${formatAge(Math.max(0, (nowMs - Date.parse(edge.last_seen)) / 1000))} ago`
                : "never seen"}
            </span>
          </p>
          <p className="muted">{edge.devices.map((d) => d.id).join(", ") || "no devices reported"}</p>
        </li>
      ))}
    </ul>
  );
}
