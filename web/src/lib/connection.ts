import { parseFrame, type CloudFrame, type UiFrame } from "./frames";

/**
 * The dashboard's one socket to `/ws/ui`: reconnects with exponential backoff
 * and jitter, resubscribes after every reconnect and reports its state.
 *
 * Everything with a side effect (the socket, timers, randomness) is injected,
 * so the tests drive it without a network or real time.
 */

export type Phase = "connecting" | "open" | "reconnecting" | "stopped";

export interface ConnectionState {
  phase: Phase;
  /** Failed attempts since the socket was last open. */
  attempt: number;
  /** When the next attempt starts (epoch ms), while reconnecting. */
  retryAt: number | null;
  /** Why the last socket closed, in words. */
  lastProblem: string | null;
}

/** The part of the browser's WebSocket this class uses. */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface ConnectionDeps {
  /** The socket URL with a current token; `null` when signed out. */
  url: () => string | null;
  open: (url: string) => SocketLike;
  onFrame: (frame: CloudFrame) => void;
  onState: (state: ConnectionState) => void;
  /** The cloud refused the token (close 4401): refresh it before the next attempt. */
  onUnauthorized?: () => void;
  onBadFrame?: (problem: string) => void;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  now?: () => number;
  random?: () => number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

const OPEN = 1;
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN_ORIGIN = 4403;

/** Delay before attempt `attempt` (0-based): doubling, capped, with half of it random. */
export function backoffMs(attempt: number, random: number, baseMs = 500, maxMs = 30_000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}

export function closeProblem(code: number, reason: string): string {
  switch (code) {
    case CLOSE_UNAUTHORIZED:
      return `the cloud refused the sign-in (${reason || "token not accepted"})`;
    case CLOSE_FORBIDDEN_ORIGIN:
      return "the cloud does not accept connections from this address";
    case 1009:
      return "a message was too large";
    case 1000:
    case 1001:
      return reason ? `closed: ${reason}` : "the connection closed";
    default:
      return reason ? `connection lost (${code}: ${reason})` : `connection lost (${code})`;
  }
}

export class LiveConnection {
  private socket: SocketLike | null = null;
  private timer: unknown = null;
  private readonly subscriptions = new Set<string>();
  private state: ConnectionState = {
    phase: "stopped",
    attempt: 0,
    retryAt: null,
    lastProblem: null,
  };
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly deps: ConnectionDeps) {
    this.setTimer = deps.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer =
      deps.clearTimer ?? ((handle) => clearTimeout(handle as ReturnType<typeof setTimeout>));
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
  }

  get current(): ConnectionState {
    return this.state;
  }

  start(): void {
    if (this.state.phase !== "stopped") return;
    this.connect();
  }

  stop(): void {
    this.cancelTimer();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      detach(socket);
      socket.close(1000, "dashboard closed");
    }
    this.setState({ phase: "stopped", attempt: 0, retryAt: null, lastProblem: null });
  }

  /** Skip the wait of a pending reconnect. */
  retryNow(): void {
    if (this.state.phase !== "reconnecting") return;
    this.cancelTimer();
    this.connect();
  }

  subscribe(edgeId: string): void {
    this.subscriptions.add(edgeId);
    if (this.state.phase === "open") this.send({ type: "subscribe", edge_id: edgeId });
  }

  unsubscribe(edgeId: string): void {
    if (!this.subscriptions.delete(edgeId)) return;
    if (this.state.phase === "open") this.send({ type: "unsubscribe", edge_id: edgeId });
  }

  /** Sends when the socket is open and authenticated; `false` otherwise. */
  send(frame: UiFrame): boolean {
    if (this.state.phase !== "open" || !this.socket || this.socket.readyState !== OPEN) {
      return false;
    }
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  private connect(): void {
    const url = this.deps.url();
    if (url === null) {
      this.setState({ ...this.state, phase: "stopped", retryAt: null });
      return;
    }
    this.setState({ ...this.state, phase: "connecting", retryAt: null });
    let socket: SocketLike;
    try {
      socket = this.deps.open(url);
    } catch (err) {
      this.scheduleRetry(err instanceof Error ? err.message : "could not open the connection");
      return;
    }
    this.socket = socket;
    socket.onmessage = (ev) => {
      if (typeof ev.data !== "string") return;
      const parsed = parseFrame(ev.data);
      if (!parsed.ok) {
        this.deps.onBadFrame?.(parsed.problem);
        return;
      }
      if (parsed.frame.type === "auth_ok") {
        // Open only once the cloud accepted the token: then subscriptions are taken.
        this.setState({ phase: "open", attempt: 0, retryAt: null, lastProblem: null });
        for (const edgeId of this.subscriptions) {
          socket.send(JSON.stringify({ type: "subscribe", edge_id: edgeId }));
        }
      }
      this.deps.onFrame(parsed.frame);
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      detach(socket);
      if (ev.code === CLOSE_UNAUTHORIZED) this.deps.onUnauthorized?.();
      this.scheduleRetry(closeProblem(ev.code, ev.reason));
    };
    socket.onerror = () => {
      // A close event follows; it carries the code.
    };
  }

  private scheduleRetry(problem: string): void {
    const attempt = this.state.attempt;
    const delay = backoffMs(
      attempt,
      this.random(),
      this.deps.baseDelayMs ?? 500,
      this.deps.maxDelayMs ?? 30_000,
    );
    this.setState({
      phase: "reconnecting",
      attempt: attempt + 1,
      retryAt: this.now() + delay,
      lastProblem: problem,
    });
    this.timer = this.setTimer(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  private cancelTimer(): void {
    if (this.timer !== null) {
      this.clearTimer(this.timer);
      this.timer = null;
    }
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    this.deps.onState(state);
  }
}

function detach(socket: SocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = null;
}

/** `ws(s)://…/ws/ui?token=…` for an API base (empty: this page's origin). */
export function socketUrl(apiBase: string, token: string, location: { href: string }): string {
  const base = new URL(apiBase || "/", location.href);
  base.protocol = base.protocol === "https:" ? "wss:" : "ws:";
  base.pathname = "/ws/ui";
  base.search = `?token=${encodeURIComponent(token)}`;
  return base.toString();
}
