"use client";

import { useEffect, useMemo, useState } from "react";
import { env } from "@/config/env";
import { useSession } from "@/features/auth/SessionProvider";
import { canCommand } from "@/features/auth/tokens";
import { useLive } from "@/features/live/LiveProvider";
import { postAuthed } from "@/lib/api";
import { ALARM_STATES, SEVERITIES, type AlarmState, type Severity } from "@/lib/frames";
import {
  alarmEventSchema,
  canAck,
  canShelve,
  formatAlarmValue,
  matches,
  NO_FILTER,
  sortAlarms,
  STATE_WORDS,
  type AlarmFilter,
  type AlarmOrder,
  type AlarmRow,
} from "./alarms";
import { useAlarms } from "./useAlarms";

/** Live `alarm` frames come for subscribed sites only: the list follows at most this many. */
const MAX_LIVE_SITES = 50;
const SHELVE_HOURS = [1, 8, 24] as const;

/** Alarms of every site, newest transitions live, with filters; operators acknowledge and shelve. */
export function AlarmList({ initialSite = "" }: { initialSite?: string }) {
  const { session, token } = useSession();
  const live = useLive();
  const { rows, problem, reload } = useAlarms();
  const [filter, setFilter] = useState<AlarmFilter>({ ...NO_FILTER, site: initialSite });
  const [failure, setFailure] = useState<string | null>(null);
  const [order, setOrder] = useState<AlarmOrder>("urgency");
  const commanding = session ? canCommand(session.role) : false;

  const sites = useMemo(() => [...new Set((rows ?? []).map((r) => r.edge_id))].sort(), [rows]);
  const follow = useMemo(
    () => (filter.site ? [filter.site] : sites.slice(0, MAX_LIVE_SITES)).join(","),
    [filter.site, sites],
  );
  const { subscribe } = live;
  useEffect(() => {
    const stops = follow ? follow.split(",").map((edgeId) => subscribe(edgeId)) : [];
    return () => stops.forEach((stop) => stop());
  }, [follow, subscribe]);

  const shown = useMemo(() => sortAlarms((rows ?? []).filter((r) => matches(r, filter)), order), [rows, filter, order]);

  const act = async (row: AlarmRow, action: "ack" | "shelve", body: unknown = {}) => {
    const access = token();
    if (!access) return;
    try {
      await postAuthed(
        env.NEXT_PUBLIC_EMS_API_BASE,
        `/api/alarms/${encodeURIComponent(row.alarm_id)}/${action}`,
        access,
        body,
        alarmEventSchema,
      );
      setFailure(null);
    } catch (err) {
      setFailure(`${action === "ack" ? "Acknowledge" : "Shelve"} ${row.rule} on ${row.edge_id}: ${err instanceof Error ? err.message : "failed"}`);
    }
    reload();
  };

  return (
    <section className="panel" aria-labelledby="alarms-title">
      <h2 id="alarms-title">Alarms</h2>
      <form className="field-row" aria-label="Alarm filters" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="alarm-state">State</label>
          <select id="alarm-state" value={filter.state} onChange={(e) => setFilter({ ...filter, state: e.target.value as AlarmFilter["state"] })}>
            <option value="all">All</option>
            <option value="open">Needing attention</option>
            {ALARM_STATES.map((s) => (
              <option key={s} value={s}>
                {STATE_WORDS[s]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="alarm-severity">Severity</label>
          <select id="alarm-severity" value={filter.severity} onChange={(e) => setFilter({ ...filter, severity: e.target.value as "all" | Severity })}>
            <option value="all">All</option>
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="alarm-site">Site</label>
          <select id="alarm-site" value={filter.site} onChange={(e) => setFilter({ ...filter, site: e.target.value })}>
            <option value="">All sites</option>
            {[...new Set([...sites, ...(filter.site ? [filter.site] : [])])].map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="alarm-order">Order</label>
          <select id="alarm-order" value={order} onChange={(e) => setOrder(e.target.value as AlarmOrder)}>
            <option value="urgency">Most urgent first</option>
            <option value="time">Timeline, newest first</option>
          </select>
        </div>
      </form>
      {problem && <p className="badge badge-bad" role="alert">Alarms unavailable: {problem}</p>}
      {failure && <p className="badge badge-bad" role="alert">{failure}</p>}
      {rows === null ? (
        <p className="muted">Loading alarms…</p>
      ) : shown.length === 0 ? (
        <p className="muted">No alarm matches.</p>
      ) : (
        <ol className="alarms" data-testid="alarms" aria-label={order === "time" ? "Alarm timeline, newest first" : "Alarms, most urgent first"}>
          {shown.map((row) => (
            <li key={row.alarm_id} className={`alarm sev-${row.severity} state-${row.state}`} data-alarm={row.alarm_id} data-state={row.state}>
              <span className={`badge sev-badge sev-${row.severity}`}>{row.severity}</span>
              <span className="alarm-what">
                <strong>{row.rule}</strong> on {row.edge_id}
              </span>
              <span data-testid="alarm-state">{STATE_WORDS[row.state as AlarmState]}</span>
              <span className="muted">value {formatAlarmValue(row.value)}</span>
              <time className="muted" dateTime={row.since ?? undefined}>
                {row.since ? new Date(row.since).toLocaleString("en-GB", { timeZone: "UTC" }) + " UTC" : "—"}
              </time>
              {row.acked_by && <span className="muted">acknowledged by {row.acked_by}</span>}
              {row.state === "shelved" && row.shelved_until && (
                <span className="muted">
                  shelved by {row.shelved_by} until {new Date(row.shelved_until).toLocaleString("en-GB", { timeZone: "UTC" })} UTC
                  {row.shelve_reason ? `: ${row.shelve_reason}` : ""}
                </span>
              )}
              {commanding && (
                <span className="alarm-actions">
                  {canAck(row.state) && (
                    <button type="button" onClick={() => void act(row, "ack")} aria-label={`Acknowledge ${row.rule} on ${row.edge_id}`}>
                      Acknowledge
                    </button>
                  )}
                  {canShelve(row.state) && <ShelveForm row={row} onShelve={(body) => void act(row, "shelve", body)} />}
                </span>
              )}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function ShelveForm({ row, onShelve }: { row: AlarmRow; onShelve: (body: { until: string; reason: string }) => void }) {
  const [hours, setHours] = useState<number>(SHELVE_HOURS[0]);
  const [reason, setReason] = useState("");
  const id = `shelve-${row.alarm_id}`;
  return (
    <details className="shelve">
      <summary>Shelve…</summary>
      <form
        className="field-row"
        onSubmit={(e) => {
          e.preventDefault();
          onShelve({ until: new Date(Date.now() + hours * 3_600_000).toISOString(), reason });
        }}
      >
        <div className="field">
          <label htmlFor={`${id}-hours`}>For</label>
          <select id={`${id}-hours`} value={hours} onChange={(e) => setHours(Number(e.target.value))}>
            {SHELVE_HOURS.map((h) => (
              <option key={h} value={h}>
                {h} h
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-reason`}>Why</label>
          <input id={`${id}-reason`} value={reason} maxLength={200} onChange={(e) => setReason(e.target.value)} />
        </div>
        <button type="submit">Shelve {row.rule}</button>
      </form>
    </details>
  );
}
