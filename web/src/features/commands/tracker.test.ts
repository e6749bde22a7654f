import { describe, expect, it } from "vitest";
import type { AckFrame, CommandFrame } from "@/lib/frames";
import type { CommandRecord } from "@/lib/api";
import { applyAck, applyRecord, isFinal, noticeFor, track, unanswered, unfinished, type Tracked } from "./tracker";

const ID = "11111111-1111-4111-8111-111111111111";
const frame: CommandFrame = {
  type: "command",
  command_id: ID,
  edge_id: "site-1",
  device: "battery_1",
  action: "set_active_power",
  value: 2000,
  issued_at: "2026-06-21T12:00:00.000Z",
};

function ack(status: AckFrame["status"], at: string, reason: string | null = null): AckFrame {
  return { type: "ack", command_id: ID, edge_id: "site-1", status, reason, detail: null, at };
}

const sent = (): Tracked => track(new Map(), frame, true);

describe("command tracker", () => {
  it("follows a command from sending to executed", () => {
    let s = sent();
    expect(s.get(ID)?.current.status).toBe("sending");
    expect(unanswered(s)).toEqual([ID]);
    s = applyAck(s, ack("received", "2026-06-21T12:00:00.010Z"));
    expect(unfinished(s)).toEqual([ID]);
    s = applyAck(s, ack("delivered", "2026-06-21T12:00:00.020Z"));
    s = applyAck(s, ack("executed", "2026-06-21T12:00:01.000Z"));
    expect(s.get(ID)?.current.status).toBe("executed");
    expect(s.get(ID)?.history.map((h) => h.status)).toEqual(["sending", "received", "delivered", "executed"]);
    expect(unfinished(s)).toEqual([]);
  });

  it("never replaces a final status, also not with a late progress ack", () => {
    let s = applyAck(sent(), ack("failed", "2026-06-21T12:00:05.000Z", "edge_timeout"));
    s = applyAck(s, ack("delivered", "2026-06-21T12:00:06.000Z"));
    s = applyAck(s, ack("executed", "2026-06-21T12:00:07.000Z"));
    expect(s.get(ID)?.current).toMatchObject({ status: "failed", reason: "edge_timeout" });
  });

  it("keeps the newer progress status when acks arrive out of order", () => {
    let s = applyAck(sent(), ack("delivered", "2026-06-21T12:00:00.020Z"));
    s = applyAck(s, ack("received", "2026-06-21T12:00:00.010Z"));
    expect(s.get(ID)?.current.status).toBe("delivered");
  });

  it("ignores a repeated ack (catch-up after a reconnect)", () => {
    const s1 = applyAck(sent(), ack("queued", "2026-06-21T12:00:00.010Z"));
    const s2 = applyAck(s1, ack("queued", "2026-06-21T12:00:00.010Z"));
    expect(s2).toBe(s1);
  });

  it("learns of a command it did not send from its ack", () => {
    const s = applyAck(new Map(), ack("queued", "2026-06-21T12:00:00.010Z"));
    expect(s.get(ID)).toMatchObject({ edge_id: "site-1", action: null, current: { status: "queued" } });
  });

  it("takes the whole trace from a command record read after a reconnect", () => {
    const record: CommandRecord = {
      command_id: ID,
      edge_id: "site-1",
      user: "olga",
      device: "battery_1",
      action: "set_active_power",
      value: 2000,
      issued_at: frame.issued_at,
      created_at: frame.issued_at,
      status: "executed",
      reason: null,
      terminal: true,
      updated_at: "2026-06-21T12:00:01.000Z",
      history: [
        { status: "received", reason: null, detail: "sent to site-1", at: "2026-06-21T12:00:00.010Z" },
        { status: "executed", reason: null, detail: "SetActivePower = 2000 W", at: "2026-06-21T12:00:01.000Z" },
      ],
    };
    const s = applyRecord(applyAck(sent(), ack("received", "2026-06-21T12:00:00.010Z")), record);
    expect(s.get(ID)?.current.status).toBe("executed");
    expect(s.get(ID)?.history).toHaveLength(2);
  });

  it("marks a command that could not be sent as final", () => {
    const s = track(new Map(), frame, false);
    expect(s.get(ID)?.current.status).toBe("unsent");
    expect(isFinal("unsent")).toBe(true);
    expect(unfinished(s)).toEqual([]);
    expect(unanswered(s)).toEqual([]);
  });
});

describe("noticeFor", () => {
  it.each([
    ["queued", null, /queued/],
    ["failed", "timeout_in_queue", /expired in the queue/],
    ["failed", "edge_timeout", /did not confirm in time/],
    ["executed", null, /executed/],
    ["rejected", "out_of_range", /rejected/],
  ] as const)("%s %s", (status, reason, text) => {
    expect(noticeFor(status, reason)).toMatch(text);
  });

  it("stays quiet for progress that needs no attention", () => {
    expect(noticeFor("received", null)).toBeNull();
    expect(noticeFor("delivered", null)).toBeNull();
  });
});
