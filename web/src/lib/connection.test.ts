import { describe, expect, it, vi } from "vitest";
import { backoffMs, LiveConnection, socketUrl, type ConnectionState, type SocketLike } from "./connection";
import type { CloudFrame } from "./frames";

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: unknown[] = [];
  closed: number | null = null;
  onopen: SocketLike["onopen"] = null;
  onmessage: SocketLike["onmessage"] = null;
  onclose: SocketLike["onclose"] = null;
  onerror: SocketLike["onerror"] = null;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.closed = code;
  }
  // -- the cloud's side
  authOk() {
    this.readyState = 1;
    this.onmessage?.({ data: JSON.stringify({ type: "auth_ok", user: "olga", role: "operator", server_time: "2026-06-21T12:00:00Z" }) });
  }
  drop(code = 1006, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

function harness(random = 0.5) {
  const sockets: FakeSocket[] = [];
  const states: ConnectionState[] = [];
  const frames: CloudFrame[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const onUnauthorized = vi.fn();
  let token = "t1";
  const conn = new LiveConnection({
    url: () => `ws://cloud/ws/ui?token=${token}`,
    open: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    onFrame: (f) => frames.push(f),
    onState: (s) => states.push(s),
    onUnauthorized,
    setTimer: (fn, ms) => {
      timers.push({ fn, ms });
      return timers.length;
    },
    clearTimer: () => undefined,
    now: () => 1_000_000,
    random: () => random,
  });
  const fire = () => timers.shift()?.fn();
  return { conn, sockets, states, frames, timers, fire, onUnauthorized, setToken: (t: string) => (token = t) };
}

describe("backoffMs", () => {
  it("doubles per attempt with half of it random, up to the cap", () => {
    expect(backoffMs(0, 0)).toBe(250);
    expect(backoffMs(0, 1)).toBe(500);
    expect(backoffMs(3, 0)).toBe(2000);
    expect(backoffMs(3, 1)).toBe(4000);
    expect(backoffMs(50, 1)).toBe(30_000);
    expect(backoffMs(50, 0)).toBe(15_000);
  });
});

describe("LiveConnection", () => {
  it("is open only once the cloud accepted the token, and subscribes then", () => {
    const h = harness();
    h.conn.subscribe("site-1");
    h.conn.start();
    expect(h.conn.current.phase).toBe("connecting");
    expect(h.conn.send({ type: "subscribe", edge_id: "x" })).toBe(false);
    h.sockets[0]!.authOk();
    expect(h.conn.current.phase).toBe("open");
    expect(h.sockets[0]!.sent).toEqual([{ type: "subscribe", edge_id: "site-1" }]);
    expect(h.frames.map((f) => f.type)).toEqual(["auth_ok"]);
  });

  it("reconnects with growing, jittered delays and resubscribes", () => {
    const h = harness(1);
    h.conn.subscribe("site-1");
    h.conn.start();
    h.sockets[0]!.drop();
    expect(h.conn.current).toMatchObject({ phase: "reconnecting", attempt: 1, retryAt: 1_000_500 });
    expect(h.conn.current.lastProblem).toContain("connection lost");
    h.fire();
    h.sockets[1]!.drop();
    expect(h.timers.map((t) => t.ms)).toEqual([1000]);
    h.fire();
    h.sockets[2]!.authOk();
    expect(h.conn.current).toMatchObject({ phase: "open", attempt: 0 });
    expect(h.sockets[2]!.sent).toEqual([{ type: "subscribe", edge_id: "site-1" }]);
    // After a good connection the backoff starts over.
    h.sockets[2]!.drop();
    expect(h.timers.map((t) => t.ms)).toEqual([500]);
  });

  it("asks for a fresh token when the cloud refuses one, and uses it next time", () => {
    const h = harness();
    h.conn.start();
    h.sockets[0]!.drop(4401, "token expired");
    expect(h.onUnauthorized).toHaveBeenCalledOnce();
    expect(h.conn.current.lastProblem).toContain("token expired");
    h.setToken("t2");
    h.fire();
    expect(h.sockets[1]!.url).toContain("token=t2");
  });

  it("passes on frames it could read and reports the rest", () => {
    const bad: string[] = [];
    const frames: CloudFrame[] = [];
    const socket = new FakeSocket("u");
    const conn = new LiveConnection({
      url: () => "u",
      open: () => socket,
      onFrame: (f) => frames.push(f),
      onState: () => undefined,
      onBadFrame: (p) => bad.push(p),
    });
    conn.start();
    socket.onmessage?.({ data: "{nope" });
    socket.onmessage?.({ data: JSON.stringify({ type: "error", code: "invalid_payload", detail: "x" }) });
    expect(bad).toEqual(["not JSON"]);
    expect(frames).toEqual([{ type: "error", code: "invalid_payload", detail: "x" }]);
    conn.stop();
  });

  it("stops for good: no reconnect after stop", () => {
    const h = harness();
    h.conn.start();
    const first = h.sockets[0]!;
    h.conn.stop();
    expect(first.closed).toBe(1000);
    expect(h.conn.current.phase).toBe("stopped");
    first.drop(); // a late close event of the old socket
    expect(h.timers).toEqual([]);
  });

  it("retries at once on request while waiting", () => {
    const h = harness();
    h.conn.start();
    h.sockets[0]!.drop();
    h.conn.retryNow();
    expect(h.sockets).toHaveLength(2);
    expect(h.conn.current.phase).toBe("connecting");
  });

  it("unsubscribes on an open socket", () => {
    const h = harness();
    h.conn.subscribe("site-1");
    h.conn.start();
    h.sockets[0]!.authOk();
    h.conn.unsubscribe("site-1");
    expect(h.sockets[0]!.sent.at(-1)).toEqual({ type: "unsubscribe", edge_id: "site-1" });
  });
});

describe("socketUrl", () => {
  it("uses the page's origin and the matching ws scheme", () => {
    expect(socketUrl("", "a b", { href: "https://ems.example/site/?id=site-1" })).toBe(
      "wss://ems.example/ws/ui?token=a%20b",
    );
    expect(socketUrl("http://127.0.0.1:8000", "t", { href: "http://localhost:3000/" })).toBe(
      "ws://127.0.0.1:8000/ws/ui?token=t",
    );
  });
});
