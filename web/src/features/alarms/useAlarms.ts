"use client";

import { useCallback, useEffect, useMemo, useState } from "react";
import { env } from "@/config/env";
import { useSession } from "@/features/auth/SessionProvider";
import { useLive } from "@/features/live/LiveProvider";
import { getJson } from "@/lib/api";
import { alarmListSchema, mergeFrames, type AlarmRow } from "./alarms";

const POLL_MS = 10_000;

export interface AlarmsView {
  rows: AlarmRow[] | null;
  problem: string | null;
  reload: () => void;
}

/**
 * Every alarm of the user's sites: `GET /api/alarms` now and every 10 s (the
 * fleet: `alarm` frames reach only dashboards subscribed to a site), merged
 * with the live frames of the subscribed sites as they come.
 */
export function useAlarms(): AlarmsView {
  const { token } = useSession();
  const live = useLive();
  const [listed, setListed] = useState<AlarmRow[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [round, setRound] = useState(0);

  useEffect(() => {
    let stopped = false;
    const load = async () => {
      const access = token();
      if (!access) return;
      try {
        const body = await getJson(env.NEXT_PUBLIC_EMS_API_BASE, "/api/alarms", access, alarmListSchema);
        if (!stopped) {
          setListed(body.alarms);
          setProblem(null);
        }
      } catch (err) {
        if (!stopped) setProblem(err instanceof Error ? err.message : "alarms unavailable");
      }
    };
    void load();
    const timer = setInterval(() => void load(), POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [token, round]);

  const rows = useMemo(
    () => (listed === null && live.alarms.size === 0 ? null : mergeFrames(listed ?? [], live.alarms.values())),
    [listed, live.alarms],
  );
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { rows, problem, reload };
}
