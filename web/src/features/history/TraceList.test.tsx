import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { reasonSentence } from "@/features/commands/wording";
import { commandRecordSchema, type TraceEntry } from "@/lib/api";
import { EVENT_WORDS, TraceList } from "./TraceList";

afterEach(cleanup);

function entry(event: string, source: "cloud" | "edge", at: string, status: string | null = null): TraceEntry {
  return { at, source, event, status, reason: null, detail: null };
}

const TRACE = [
  entry("cloud.received", "cloud", "2026-06-21T12:00:00.100000Z", "received"),
  entry("cloud.sent", "cloud", "2026-06-21T12:00:00.101000Z", "sent"),
  entry("edge.received", "edge", "2026-06-21T12:00:00.102000Z"),
  entry("edge.request_written", "edge", "2026-06-21T12:00:00.103000Z", "delivered"),
  entry("controller.executed", "edge", "2026-06-21T12:00:00.900000Z", "executed"),
  entry("cloud.acked", "cloud", "2026-06-21T12:00:00.950000Z", "executed"),
];

describe("TraceList", () => {
  it("shows cloud and edge waypoints in order, each marked with its source", () => {
    render(<TraceList entries={TRACE} />);
    const items = screen.getByRole("list", { name: "Audit trace" }).querySelectorAll("li");
    expect(Array.from(items, (li) => li.dataset.source)).toEqual(["cloud", "cloud", "edge", "edge", "edge", "cloud"]);
    expect(items[2]?.textContent).toContain("Edge");
    expect(items[3]?.textContent).toContain(EVENT_WORDS["edge.request_written"]);
    expect(items[4]?.textContent).toContain("Controller carried it out");
  });

  it("shows an unknown event by its name and a reason in words", () => {
    render(<TraceList entries={[{ ...entry("edge.something_new", "edge", "2026-06-21T12:00:00Z"), reason: "expired" }]} />);
    const item = screen.getByRole("listitem");
    expect(item.textContent).toContain("edge.something_new");
    expect(item.textContent).toContain(reasonSentence("expired"));
  });

  it("renders nothing without a trace (a cloud older than the trace)", () => {
    const { container } = render(<TraceList entries={[]} />);
    expect(container.textContent).toBe("");
  });

  it("reads the API's record with and without a trace", () => {
    const base = {
      command_id: "c", edge_id: "site-1", user: "olga", device: "battery_1", action: "set_active_power",
      value: -1000, issued_at: "x", created_at: "x", status: "executed", reason: null, terminal: true, updated_at: "x",
    };
    expect(commandRecordSchema.parse(base).trace).toBeUndefined();
    expect(commandRecordSchema.parse({ ...base, trace: TRACE }).trace).toHaveLength(6);
    expect(() => commandRecordSchema.parse({ ...base, trace: [{ ...entry("cloud.sent", "cloud", "x"), source: "elsewhere" }] })).toThrow();
  });
});
