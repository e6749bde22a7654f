import { z } from "zod";

/**
 * The frames of `/ws/ui` (DESIGN section 5), as the dashboard reads and writes them.
 *
 * Incoming frames are checked before anything acts on them; fields the cloud
 * adds later are ignored (the contract grows by adding fields).
 */

export const ACK_STATUSES = [
  "received",
  "queued",
  "delivered",
  "rejected",
  "executed",
  "failed",
] as const;
export type AckStatus = (typeof ACK_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<AckStatus> = new Set(["rejected", "executed", "failed"]);

export function isTerminal(status: AckStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

const timestamp = z.iso.datetime({ offset: true });
const channelValue = z.union([z.number(), z.string(), z.boolean(), z.null()]);

export const channelSample = z.object({ v: channelValue, t: timestamp });
export type ChannelSample = z.infer<typeof channelSample>;
export type Channels = Record<string, ChannelSample>;

const authOk = z.object({
  type: z.literal("auth_ok"),
  user: z.string(),
  role: z.enum(["viewer", "operator", "admin"]),
  server_time: timestamp,
});

const telemetry = z.object({
  type: z.literal("telemetry"),
  edge_id: z.string(),
  ts: timestamp,
  channels: z.record(z.string(), channelSample),
});

const edgeStatus = z.object({
  type: z.literal("edge_status"),
  edge_id: z.string(),
  online: z.boolean(),
  last_seen: timestamp.nullable(),
  // Connected but silent for longer than the cloud's EMS_EDGE_STALE_S (absent from older clouds).
  stale: z.boolean().default(false),
});

const ack = z.object({
  type: z.literal("ack"),
  command_id: z.string(),
  edge_id: z.string(),
  status: z.enum(ACK_STATUSES),
  reason: z.string().nullable().default(null),
  detail: z.string().nullable().default(null),
  at: timestamp,
});

export const ALARM_STATES = ["active_unacked", "active_acked", "cleared_unacked", "cleared", "shelved"] as const;
export type AlarmState = (typeof ALARM_STATES)[number];
export const SEVERITIES = ["critical", "high", "medium", "low"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** DESIGN 14: one transition of an alarm, to the dashboards subscribed to its edge. */
const alarm = z.object({
  type: z.literal("alarm"),
  alarm_id: z.string(),
  edge_id: z.string(),
  rule: z.string(),
  state: z.enum(ALARM_STATES),
  severity: z.enum(SEVERITIES),
  value: z.union([z.number(), z.boolean(), z.null()]),
  at: timestamp,
});

const error = z.object({
  type: z.literal("error"),
  code: z.string(),
  detail: z.string().nullable().default(null),
});

/** What became of a config version of a subscribed edge (DESIGN 16; the config page polls). */
const configStatus = z.object({
  type: z.literal("config_status"),
  edge_id: z.string(),
  version: z.number().int(),
  status: z.enum(["stored", "pushed", "applied", "rejected"]),
  reason: z.string().nullable().default(null),
  detail: z.string().nullable().default(null),
  at: timestamp,
});

export const cloudFrame = z.discriminatedUnion("type", [
  authOk,
  telemetry,
  edgeStatus,
  ack,
  alarm,
  configStatus,
  error,
]);
export type CloudFrame = z.infer<typeof cloudFrame>;
export type AuthOkFrame = z.infer<typeof authOk>;
export type TelemetryFrame = z.infer<typeof telemetry>;
export type EdgeStatusFrame = z.infer<typeof edgeStatus>;
export type AckFrame = z.infer<typeof ack>;
export type AlarmFrame = z.infer<typeof alarm>;
export type ErrorFrame = z.infer<typeof error>;
export type ConfigStatusFrame = z.infer<typeof configStatus>;

export type Parsed = { ok: true; frame: CloudFrame } | { ok: false; problem: string };

/** One text frame from the cloud, checked; never throws. */
export function parseFrame(raw: string): Parsed {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, problem: "not JSON" };
  }
  const result = cloudFrame.safeParse(data);
  if (!result.success) {
    const first = result.error.issues[0];
    const where = first && first.path.length > 0 ? `${first.path.join(".")}: ` : "";
    return { ok: false, problem: `${where}${first?.message ?? "invalid frame"}` };
  }
  return { ok: true, frame: result.data };
}

// -- dashboard → cloud ------------------------------------------------------------
export interface SubscribeFrame {
  type: "subscribe";
  edge_id: string;
}

/** A `set_controller` value: the controller parameters to change, by name. */
export type ControllerSettings = Record<string, number | boolean>;

export interface CommandFrame {
  type: "command";
  command_id: string;
  edge_id: string;
  /** A device id, or a controller id for `set_controller`. */
  device: string;
  action: string;
  value: number | string | boolean | ControllerSettings;
  issued_at: string;
  ttl_s?: number;
}

export type UiFrame = SubscribeFrame | { type: "unsubscribe"; edge_id: string } | CommandFrame;

export function commandFrame(
  command: Omit<CommandFrame, "type" | "command_id" | "issued_at">,
  now: Date,
  newId: () => string = () => crypto.randomUUID(),
): CommandFrame {
  return { type: "command", command_id: newId(), issued_at: now.toISOString(), ...command };
}
