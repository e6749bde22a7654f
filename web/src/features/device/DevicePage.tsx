"use client";

import Link from "next/link";
import { useEffect, useMemo, useState } from "react";
import { env } from "@/config/env";
import { useNow } from "@/components/useNow";
import { useSession } from "@/features/auth/SessionProvider";
import { formatAge } from "@/features/diagram/flow";
import { useLive } from "@/features/live/LiveProvider";
import { edgesSchema, getJson, telemetryHistorySchema, telemetryPath, type TelemetryHistory } from "@/lib/api";
import { deviceChannels, formatChannelValue, profileSchema, sparklinePath, type ProfileDoc } from "./device";

const TREND_S = 3600;
const TREND_POINTS = 60;
const TREND_REFRESH_MS = 60_000;
const SPARK_W = 120;
const SPARK_H = 24;

/** Every channel of one device: live value with its unit and age, and the last hour's trend. */
export function DevicePage({ edgeId, deviceId }: { edgeId: string; deviceId: string }) {
  const { token } = useSession();
  const live = useLive();
  const now = useNow(1000, live.clockOffsetMs);
  const [profile, setProfile] = useState<ProfileDoc | null>(null);
  const [history, setHistory] = useState<TelemetryHistory | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  const { subscribe } = live;
  useEffect(() => subscribe(edgeId), [edgeId, subscribe]);

  const channels = useMemo(
    () => deviceChannels(live.telemetry.get(edgeId)?.channels ?? {}, deviceId),
    [live.telemetry, edgeId, deviceId],
  );
  const numeric = useMemo(
    () => channels.filter((c) => typeof c.sample.v === "number").map((c) => c.address).slice(0, 50).join(","),
    [channels],
  );

  // The device's profile: the unit of each channel.
  useEffect(() => {
    let stopped = false;
    void (async () => {
      const access = token();
      if (!access) return;
      try {
        const edges = await getJson(env.NEXT_PUBLIC_EMS_API_BASE, "/api/edges", access, edgesSchema);
        const type = edges.edges.find((e) => e.edge_id === edgeId)?.devices.find((d) => d.id === deviceId)?.profile;
        if (!type) throw new Error(`no device ${deviceId} on ${edgeId}`);
        const doc = await getJson(env.NEXT_PUBLIC_EMS_API_BASE, `/api/profiles/${encodeURIComponent(type)}`, access, profileSchema);
        if (!stopped) setProfile(doc);
      } catch (err) {
        if (!stopped) setProblem(err instanceof Error ? err.message : "device unknown");
      }
    })();
    return () => {
      stopped = true;
    };
  }, [token, edgeId, deviceId]);

  // The last hour of each numeric channel, refreshed every minute.
  useEffect(() => {
    if (!numeric) return undefined;
    let stopped = false;
    const load = async () => {
      const access = token();
      if (!access) return;
      const end = Date.now() / 1000;
      try {
        const body = await getJson(
          env.NEXT_PUBLIC_EMS_API_BASE,
          telemetryPath(edgeId, numeric.split(","), end - TREND_S, end, TREND_POINTS),
          access,
          telemetryHistorySchema,
        );
        if (!stopped) setHistory(body);
      } catch {
        // The live values still show; the trend waits for the next round.
      }
    };
    void load();
    const timer = setInterval(() => void load(), TREND_REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [token, edgeId, numeric]);

  return (
    <>
      <p className="small">
        <Link href={`/site/?id=${encodeURIComponent(edgeId)}`}>← {edgeId}</Link>
      </p>
      <h1>
        {deviceId} <span className="muted small">{profile?.type ?? ""}</span>
      </h1>
      {problem && <p className="badge badge-bad" role="alert">{problem}</p>}
      {channels.length === 0 ? (
        <p className="muted">Waiting for the device&apos;s live values…</p>
      ) : (
        <table className="channels" data-testid="device-channels">
          <caption className="sr-only">Channels of {deviceId}</caption>
          <thead>
            <tr>
              <th scope="col">Channel</th>
              <th scope="col">Value</th>
              <th scope="col">Age</th>
              <th scope="col">Last hour</th>
            </tr>
          </thead>
          <tbody>
            {channels.map((c) => {
              const unit = profile?.channels[c.name]?.unit ?? null;
              const points = (history?.channels[c.address] ?? []).map((p) => ({ t: p.time_s, v: p.avg }));
              const path = sparklinePath(points, SPARK_W, SPARK_H);
              return (
                <tr key={c.address} data-channel={c.name}>
                  <th scope="row">{c.name}</th>
                  <td data-testid={`channel-${c.name}`}>{formatChannelValue(c.sample.v, unit)}</td>
                  <td>{formatAge(Math.max(0, (now - Date.parse(c.sample.t)) / 1000))}</td>
                  <td>
                    {path ? (
                      <svg width={SPARK_W} height={SPARK_H} role="img" aria-label={`${c.name}, last hour`} className="spark">
                        <path d={path} fill="none" stroke="currentColor" strokeWidth={1.5} />
                      </svg>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </>
  );
}
