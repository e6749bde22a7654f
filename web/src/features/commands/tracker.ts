import type { CommandRecord } from "@/lib/api";
import { isTerminal, type AckFrame, type AckStatus, type CommandFrame, type ControllerSettings } from "@/lib/frames";
import type { ShownStatus } from "./wording";

/**
 * The commands this dashboard follows and what became of each, built from
 * acks (live and catch-up) and from command records read over HTTP.
 *
 * Same rule as the cloud: a terminal status is never replaced; a progress
 * status replaces another only if it is not older.
 */

export interface Step {
  status: ShownStatus;
  reason: string | null;
  detail: string | null;
  at: string;
}

export interface TrackedCommand {
  command_id: string;
  edge_id: string;
  device: string | null;
  action: string | null;
  value: number | string | boolean | ControllerSettings | null;
  issued_at: string | null;
  current: Step;
  history: Step[];
}

export type Tracked = ReadonlyMap<string, TrackedCommand>;

export function isFinal(status: ShownStatus): boolean {
  return status === "unsent" || (status !== "sending" && isTerminal(status));
}

function supersedes(current: Step, next: Step): boolean {
  if (isFinal(current.status)) return false;
  if (current.status === "sending") return true;
  if (isFinal(next.status)) return true;
  return Date.parse(next.at) >= Date.parse(current.at);
}

function sameStep(a: Step, b: Step): boolean {
  return a.status === b.status && a.reason === b.reason && a.at === b.at;
}

export function track(state: Tracked, frame: CommandFrame, sent: boolean): Tracked {
  const step: Step = sent
    ? { status: "sending", reason: null, detail: null, at: frame.issued_at }
    : { status: "unsent", reason: null, detail: "no connection to the cloud", at: frame.issued_at };
  const next = new Map(state);
  next.set(frame.command_id, {
    command_id: frame.command_id,
    edge_id: frame.edge_id,
    device: frame.device,
    action: frame.action,
    value: frame.value,
    issued_at: frame.issued_at,
    current: step,
    history: [step],
  });
  return next;
}

export function applyAck(state: Tracked, ack: AckFrame): Tracked {
  const step: Step = { status: ack.status, reason: ack.reason, detail: ack.detail, at: ack.at };
  const known = state.get(ack.command_id);
  const next = new Map(state);
  if (!known) {
    // Sent from another tab or before a reload: the catch-up tells us of it.
    next.set(ack.command_id, {
      command_id: ack.command_id,
      edge_id: ack.edge_id,
      device: null,
      action: null,
      value: null,
      issued_at: null,
      current: step,
      history: [step],
    });
    return next;
  }
  if (known.history.some((s) => sameStep(s, step))) return state; // a repeat (catch-up)
  const history = [...known.history, step];
  const current = supersedes(known.current, step) ? step : known.current;
  next.set(ack.command_id, { ...known, current, history });
  return next;
}

/** A record read from `/api/commands/{id}`: it knows the whole trace. */
export function applyRecord(state: Tracked, record: CommandRecord): Tracked {
  const known = state.get(record.command_id);
  const fromServer: Step[] = (record.history ?? []).map((e) => ({ ...e }));
  const last: Step =
    fromServer.at(-1) ?? {
      status: record.status,
      reason: record.reason,
      detail: null,
      at: record.updated_at,
    };
  const current = known && !supersedes(known.current, last) ? known.current : last;
  const next = new Map(state);
  next.set(record.command_id, {
    command_id: record.command_id,
    edge_id: record.edge_id,
    device: record.device,
    action: record.action,
    value: record.value,
    issued_at: record.issued_at,
    current,
    history: fromServer.length > 0 ? fromServer : (known?.history ?? [last]),
  });
  return next;
}

/** Commands that may still change: to be caught up after a reconnect. */
export function unfinished(state: Tracked): string[] {
  return [...state.values()]
    .filter((c) => !isFinal(c.current.status) && c.current.status !== "sending")
    .map((c) => c.command_id);
}

/** Commands sent but not answered at all: their outcome is asked for after a reconnect too. */
export function unanswered(state: Tracked): string[] {
  return [...state.values()].filter((c) => c.current.status === "sending").map((c) => c.command_id);
}

/** The notice an ack deserves, or `null`: queue events and final outcomes. */
export function noticeFor(status: AckStatus, reason: string | null): string | null {
  if (status === "queued") return "queued: the site is offline, the command waits in its queue";
  if (reason === "timeout_in_queue") return "expired in the queue: the site stayed offline";
  if (reason === "edge_timeout") return "the site did not confirm in time";
  if (status === "executed") return "executed";
  if (status === "rejected") return "rejected";
  if (status === "failed") return "failed";
  return null;
}

export function newestFirst(state: Tracked, edgeId: string): TrackedCommand[] {
  return [...state.values()]
    .filter((c) => c.edge_id === edgeId)
    .sort((a, b) => Date.parse(b.history[0]?.at ?? "") - Date.parse(a.history[0]?.at ?? ""));
}
