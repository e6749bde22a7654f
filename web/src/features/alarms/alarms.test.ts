import { describe, expect, it } from "vitest";
import type { AlarmFrame } from "@/lib/frames";
import { activeCount, canAck, canShelve, formatAlarmValue, matches, mergeFrames, NO_FILTER, sortAlarms, type AlarmRow } from "./alarms";

function row(id: string, over: Partial<AlarmRow> = {}): AlarmRow {
  return {
    alarm_id: id,
    edge_id: "site-1",
    rule: "hot",
    severity: "medium",
    state: "active_unacked",
    value: 1,
    since: "2026-06-01T10:00:00Z",
    acked_by: null,
    shelved_by: null,
    shelved_until: null,
    shelve_reason: null,
    ...over,
  };
}

function frame(id: string, over: Partial<AlarmFrame> = {}): AlarmFrame {
  return { type: "alarm", alarm_id: id, edge_id: "site-1", rule: "hot", state: "active_acked", severity: "medium", value: 7, at: "2026-06-01T10:05:00Z", ...over };
}

describe("alarms", () => {
  it("a newer frame replaces the listed state, an older one does not, a new alarm is added", () => {
    const rows = [row("a", { acked_by: "op" }), row("b", { since: "2026-06-01T11:00:00Z" })];
    const merged = mergeFrames(rows, [frame("a"), frame("b"), frame("c", { edge_id: "site-2", state: "active_unacked" })]);
    const byId = new Map(merged.map((r) => [r.alarm_id, r]));
    expect(byId.get("a")).toMatchObject({ state: "active_acked", value: 7, acked_by: "op", since: "2026-06-01T10:05:00Z" });
    expect(byId.get("b")?.state).toBe("active_unacked"); // the list is newer than the frame
    expect(byId.get("c")).toMatchObject({ edge_id: "site-2", shelved_by: null });
  });

  it("filters by state, severity and site", () => {
    const rows = [
      row("a"),
      row("b", { state: "cleared", severity: "high" }),
      row("c", { state: "cleared_unacked", edge_id: "site-2" }),
    ];
    const ids = (f: Partial<typeof NO_FILTER>) => rows.filter((r) => matches(r, { ...NO_FILTER, ...f })).map((r) => r.alarm_id);
    expect(ids({})).toEqual(["a", "b", "c"]);
    expect(ids({ state: "open" })).toEqual(["a", "c"]);
    expect(ids({ state: "cleared" })).toEqual(["b"]);
    expect(ids({ severity: "high" })).toEqual(["b"]);
    expect(ids({ site: "site-2" })).toEqual(["c"]);
    expect(ids({ site: "site-2", severity: "high" })).toEqual([]);
  });

  it("sorts active first, then by severity, then newest, and counts the active ones", () => {
    const rows = [
      row("cleared-critical", { state: "cleared", severity: "critical" }),
      row("low-new", { severity: "low", since: "2026-06-01T12:00:00Z" }),
      row("high-old", { severity: "high", since: "2026-06-01T09:00:00Z" }),
      row("high-new", { severity: "high", state: "active_acked", since: "2026-06-01T11:00:00Z" }),
    ];
    expect(sortAlarms(rows).map((r) => r.alarm_id)).toEqual(["high-new", "high-old", "low-new", "cleared-critical"]);
    expect(activeCount(rows)).toBe(3);
    expect(sortAlarms(rows, "time").map((r) => r.alarm_id)).toEqual(["low-new", "high-new", "cleared-critical", "high-old"]);
  });

  it("offers acknowledge and shelve only where they apply, and formats values", () => {
    expect(canAck("active_unacked") && canAck("cleared_unacked")).toBe(true);
    expect(canAck("active_acked") || canAck("cleared") || canAck("shelved")).toBe(false);
    expect(canShelve("active_acked")).toBe(true);
    expect(canShelve("shelved") || canShelve("cleared")).toBe(false);
    expect(formatAlarmValue(null)).toBe("—");
    expect(formatAlarmValue(1234.567)).toBe("1,234.57");
    expect(formatAlarmValue(true)).toBe("true");
  });
});
