import { z } from "zod";
import { ALARM_STATES, SEVERITIES, type AlarmFrame, type AlarmState, type Severity } from "@/lib/frames";

/**
 * Alarms as the dashboard lists them: `GET /api/alarms` merged with the live
 * `alarm` frames (DESIGN 14), filtered and ordered most urgent first.
 */

export const alarmSchema = z.object({
  alarm_id: z.string(),
  edge_id: z.string(),
  rule: z.string(),
  severity: z.enum(SEVERITIES),
  state: z.enum(ALARM_STATES),
  value: z.union([z.number(), z.boolean(), z.null()]),
  since: z.string().nullable(),
  acked_by: z.string().nullable().default(null),
  shelved_by: z.string().nullable().default(null),
  shelved_until: z.string().nullable().default(null),
  shelve_reason: z.string().nullable().default(null),
});
export type AlarmRow = z.infer<typeof alarmSchema>;
export const alarmListSchema = z.object({ alarms: z.array(alarmSchema) });
/** The answer to ack / shelve: the transition (its frame fields and who). */
export const alarmEventSchema = z.object({ alarm_id: z.string(), state: z.enum(ALARM_STATES) }).loose();

export const ACTIVE: ReadonlySet<AlarmState> = new Set(["active_unacked", "active_acked"]);

/** Filters of the list; `"all"` lets every value through. */
export interface AlarmFilter {
  state: "open" | "all" | AlarmState;
  severity: "all" | Severity;
  site: string; // "" = every site
}
export const NO_FILTER: AlarmFilter = { state: "all", severity: "all", site: "" };

/** A live frame is newer than what the list answered unless its time is older. */
export function mergeFrames(rows: readonly AlarmRow[], frames: Iterable<AlarmFrame>): AlarmRow[] {
  const byId = new Map(rows.map((r) => [r.alarm_id, r]));
  for (const f of frames) {
    const known = byId.get(f.alarm_id);
    if (known?.since && Date.parse(known.since) > Date.parse(f.at)) continue;
    byId.set(f.alarm_id, {
      ...(known ?? {
        acked_by: null,
        shelved_by: null,
        shelved_until: null,
        shelve_reason: null,
      }),
      alarm_id: f.alarm_id,
      edge_id: f.edge_id,
      rule: f.rule,
      severity: f.severity,
      state: f.state,
      value: f.value,
      since: f.at,
    });
  }
  return [...byId.values()];
}

/** "open": anything still needing an operator (active, or cleared but not acknowledged). */
export function matches(row: AlarmRow, filter: AlarmFilter): boolean {
  if (filter.site && row.edge_id !== filter.site) return false;
  if (filter.severity !== "all" && row.severity !== filter.severity) return false;
  if (filter.state === "all") return true;
  if (filter.state === "open") return row.state !== "cleared";
  return row.state === filter.state;
}

const RANK: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3 };

/** "urgency": active before the rest, then most severe, then newest; "time": a timeline,
 * newest transition first. Ids break ties so the order is stable. */
export type AlarmOrder = "urgency" | "time";

export function sortAlarms(rows: readonly AlarmRow[], order: AlarmOrder = "urgency"): AlarmRow[] {
  const time = (r: AlarmRow) => (r.since ? Date.parse(r.since) : 0);
  if (order === "time") return [...rows].sort((a, b) => time(b) - time(a) || a.alarm_id.localeCompare(b.alarm_id));
  return [...rows].sort(
    (a, b) =>
      Number(!ACTIVE.has(a.state)) - Number(!ACTIVE.has(b.state)) ||
      RANK[a.severity] - RANK[b.severity] ||
      time(b) - time(a) ||
      a.alarm_id.localeCompare(b.alarm_id),
  );
}

export function activeCount(rows: readonly AlarmRow[]): number {
  return rows.filter((r) => ACTIVE.has(r.state)).length;
}

export const STATE_WORDS: Record<AlarmState, string> = {
  active_unacked: "Active, not acknowledged",
  active_acked: "Active, acknowledged",
  cleared_unacked: "Cleared, not acknowledged",
  cleared: "Cleared",
  shelved: "Shelved",
};

/** Acknowledge applies to unacknowledged alarms; shelve to anything not already shelved or normal. */
export function canAck(state: AlarmState): boolean {
  return state === "active_unacked" || state === "cleared_unacked";
}
export function canShelve(state: AlarmState): boolean {
  return state !== "shelved" && state !== "cleared";
}

export function formatAlarmValue(value: AlarmRow["value"]): string {
  if (value === null) return "—";
  if (typeof value === "boolean") return value ? "true" : "false";
  return Number.isInteger(value) ? value.toLocaleString("en-US") : value.toLocaleString("en-US", { maximumFractionDigits: 2 });
}
