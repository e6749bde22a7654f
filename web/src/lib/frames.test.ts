import { describe, expect, it } from "vitest";
import { commandFrame, isTerminal, parseFrame } from "./frames";

const T = "2026-06-21T12:00:00.000Z";

describe("parseFrame", () => {
  it("reads a telemetry frame", () => {
    const parsed = parseFrame(
      JSON.stringify({
        type: "telemetry",
        edge_id: "site-1",
        ts: T,
        channels: { "battery_1/Soc": { v: 55.2, t: T }, "battery_1/State": { v: "idle", t: T } },
      }),
    );
    expect(parsed.ok).toBe(true);
    if (parsed.ok && parsed.frame.type === "telemetry") {
      expect(parsed.frame.channels["battery_1/Soc"]?.v).toBe(55.2);
    }
  });

  it("reads an ack and fills absent reason and detail with null", () => {
    const parsed = parseFrame(
      JSON.stringify({ type: "ack", command_id: "c1", edge_id: "site-1", status: "received", at: T }),
    );
    expect(parsed).toEqual({
      ok: true,
      frame: { type: "ack", command_id: "c1", edge_id: "site-1", status: "received", reason: null, detail: null, at: T },
    });
  });

  it("reads a config_status frame, so a config change is no unreadable message", () => {
    const parsed = parseFrame(
      JSON.stringify({ type: "config_status", edge_id: "site-1", version: 3, status: "applied", at: T }),
    );
    expect(parsed).toEqual({
      ok: true,
      frame: { type: "config_status", edge_id: "site-1", version: 3, status: "applied", reason: null, detail: null, at: T },
    });
  });

  it("ignores fields the cloud adds later", () => {
    const parsed = parseFrame(
      JSON.stringify({ type: "edge_status", edge_id: "site-1", online: true, last_seen: T, region: "eu" }),
    );
    expect(parsed.ok).toBe(true);
  });

  it.each([
    ["not JSON", "{", "not JSON"],
    ["an unknown type", JSON.stringify({ type: "gossip" }), ""],
    ["an unknown status", JSON.stringify({ type: "ack", command_id: "c", edge_id: "e", status: "done", at: T }), "status"],
    ["a string where a number belongs", JSON.stringify({ type: "edge_status", edge_id: "e", online: "yes", last_seen: null }), "online"],
    ["a timestamp without offset", JSON.stringify({ type: "auth_ok", user: "u", role: "viewer", server_time: "2026-06-21 12:00" }), "server_time"],
  ])("refuses %s", (_what, raw, where) => {
    const parsed = parseFrame(raw);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problem).toContain(where);
  });
});

describe("edge_status", () => {
  it("reads stale, and takes its absence (an older cloud) as not stale", () => {
    const base = { type: "edge_status", edge_id: "site-1", online: true, last_seen: T };
    const withFlag = parseFrame(JSON.stringify({ ...base, stale: true }));
    const without = parseFrame(JSON.stringify(base));
    expect(withFlag.ok && withFlag.frame.type === "edge_status" && withFlag.frame.stale).toBe(true);
    expect(without.ok && without.frame.type === "edge_status" && without.frame.stale).toBe(false);
  });
});

describe("commandFrame", () => {
  it("stamps an id and the time of issue", () => {
    const frame = commandFrame(
      { edge_id: "site-1", device: "battery_1", action: "set_active_power", value: -2500 },
      new Date(T),
      () => "0b7f4c1e-0000-4000-8000-000000000001",
    );
    expect(frame).toEqual({
      type: "command",
      command_id: "0b7f4c1e-0000-4000-8000-000000000001",
      edge_id: "site-1",
      device: "battery_1",
      action: "set_active_power",
      value: -2500,
      issued_at: T,
    });
  });
});

describe("isTerminal", () => {
  it.each([
    ["received", false],
    ["queued", false],
    ["delivered", false],
    ["executed", true],
    ["rejected", true],
    ["failed", true],
  ] as const)("%s → %s", (status, terminal) => {
    expect(isTerminal(status)).toBe(terminal);
  });
});
