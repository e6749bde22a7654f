import { z } from "zod";

/** HTTP calls to the cloud and the auth service, with their answers checked. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function apiUrl(base: string, path: string): string {
  return `${base}${path}`;
}

async function readError(response: Response): Promise<string> {
  try {
    const body: unknown = await response.json();
    if (body && typeof body === "object") {
      const b = body as Record<string, unknown>;
      const text = b.detail ?? b.error;
      if (typeof text === "string") return text;
    }
  } catch {
    // not JSON: the status says enough
  }
  return `${response.status} ${response.statusText}`.trim();
}

export async function getJson<T>(
  base: string,
  path: string,
  token: string,
  schema: z.ZodType<T>,
  signal?: AbortSignal,
): Promise<T> {
  const response = await fetch(apiUrl(base, path), {
    headers: { Authorization: `Bearer ${token}` },
    signal,
  });
  if (!response.ok) throw new ApiError(response.status, await readError(response));
  return schema.parse(await response.json());
}

export async function postJson<T>(
  base: string,
  path: string,
  body: unknown,
  schema: z.ZodType<T>,
): Promise<T> {
  const response = await fetch(apiUrl(base, path), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new ApiError(response.status, await readError(response));
  return schema.parse(await response.json());
}

/** A POST with the user's access token (operator actions: acknowledge, shelve). */
export async function postAuthed<T>(
  base: string,
  path: string,
  token: string,
  body: unknown,
  schema: z.ZodType<T>,
): Promise<T> {
  const response = await fetch(apiUrl(base, path), {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new ApiError(response.status, await readError(response));
  return schema.parse(await response.json());
}

// -- the cloud's answers ------------------------------------------------------------
/** A controller parameter settable at runtime; `below`: must stay under that parameter. */
export const paramSpecSchema = z.object({
  name: z.string(),
  type: z.enum(["number", "boolean"]),
  unit: z.string().nullable().default(null),
  min: z.number().nullable().default(null),
  max: z.number().nullable().default(null),
  below: z.string().nullable().default(null),
});
export type ParamSpec = z.infer<typeof paramSpecSchema>;
export const controllerSchema = z.object({
  id: z.string(),
  type: z.string(),
  priority: z.number(),
  params: z.array(paramSpecSchema).default([]),
});
export type ControllerInfo = z.infer<typeof controllerSchema>;

export const edgeSchema = z.object({
  edge_id: z.string(),
  online: z.boolean(),
  stale: z.boolean().default(false),
  last_seen: z.string().nullable(),
  devices: z.array(z.object({ id: z.string(), profile: z.string() })),
  // What set_controller may change (absent from older clouds and edges: none).
  controllers: z.array(controllerSchema).default([]),
});
export type Edge = z.infer<typeof edgeSchema>;
export const edgesSchema = z.object({ edges: z.array(edgeSchema) });

export const historyPointSchema = z.object({
  time_s: z.number(),
  avg: z.number().nullable(),
  min: z.number().nullable(),
  max: z.number().nullable(),
});
export type HistoryPoint = z.infer<typeof historyPointSchema>;
export const telemetryHistorySchema = z.object({
  edge_id: z.string(),
  start: z.number(),
  end: z.number(),
  channels: z.record(z.string(), z.array(historyPointSchema)),
});
export type TelemetryHistory = z.infer<typeof telemetryHistorySchema>;

const statusEventSchema = z.object({
  status: z.enum(["received", "queued", "delivered", "rejected", "executed", "failed"]),
  reason: z.string().nullable(),
  detail: z.string().nullable(),
  at: z.string(),
});
export type StatusEvent = z.infer<typeof statusEventSchema>;

/** One audit waypoint of a command, from the cloud or the edge it was sent to. */
export const traceEntrySchema = z.object({
  at: z.string(),
  source: z.enum(["cloud", "edge"]),
  event: z.string(),
  status: z.string().nullable(),
  reason: z.string().nullable(),
  detail: z.string().nullable(),
});
export type TraceEntry = z.infer<typeof traceEntrySchema>;

export const commandRecordSchema = z.object({
  command_id: z.string(),
  edge_id: z.string(),
  user: z.string(),
  device: z.string(),
  action: z.string(),
  value: z.union([z.number(), z.string(), z.boolean(), z.null(), z.record(z.string(), z.union([z.number(), z.boolean()]))]),
  issued_at: z.string(),
  created_at: z.string(),
  status: statusEventSchema.shape.status,
  reason: z.string().nullable(),
  terminal: z.boolean(),
  updated_at: z.string(),
  history: z.array(statusEventSchema).optional(),
  trace: z.array(traceEntrySchema).optional(),
});
export type CommandRecord = z.infer<typeof commandRecordSchema>;
export const commandListSchema = z.object({
  edge_id: z.string(),
  commands: z.array(commandRecordSchema),
});

export function telemetryPath(edgeId: string, channels: string[], startS: number, endS: number, maxPoints: number): string {
  const query = new URLSearchParams();
  for (const channel of channels) query.append("channel", channel);
  query.set("start", new Date(startS * 1000).toISOString());
  query.set("end", new Date(endS * 1000).toISOString());
  query.set("max_points", String(maxPoints));
  return `/api/edges/${encodeURIComponent(edgeId)}/telemetry?${query.toString()}`;
}
