import { z } from "zod";
import { ApiError, apiUrl, getJson } from "@/lib/api";

/** `/api/edges/{id}/config`: an edge's config versions (DESIGN 16; admins). */

export const configStatusSchema = z.enum(["stored", "pushed", "applied", "rejected"]);
export type ConfigStatus = z.infer<typeof configStatusSchema>;

export const configVersionSchema = z.object({
  version: z.number().int(),
  by: z.string(),
  at: z.string(),
  comment: z.string().nullable(),
  rollback_of: z.number().int().nullable(),
  status: configStatusSchema,
  reason: z.string().nullable(),
  detail: z.string().nullable(),
  status_at: z.string(),
});
export type ConfigVersion = z.infer<typeof configVersionSchema>;

export const currentConfigSchema = configVersionSchema.extend({
  yaml: z.string(),
  document: z.record(z.string(), z.unknown()),
});
export type CurrentConfig = z.infer<typeof currentConfigSchema>;

export const configListingSchema = z.object({
  edge_id: z.string(),
  current: currentConfigSchema.nullable(),
  applied: z.number().int().nullable(),
  history: z.array(configVersionSchema),
});
export type ConfigListing = z.infer<typeof configListingSchema>;

/** A refusal: a stable reason and the YAML field it is about. */
export class ConfigRefusal extends ApiError {
  constructor(
    status: number,
    readonly reason: string,
    readonly field: string | null,
    detail: string,
  ) {
    super(status, detail);
    this.name = "ConfigRefusal";
  }
}

export function getConfig(base: string, edgeId: string, token: string): Promise<ConfigListing> {
  return getJson(base, `/api/edges/${encodeURIComponent(edgeId)}/config`, token, configListingSchema);
}

async function send(base: string, method: string, path: string, token: string, body: unknown): Promise<ConfigVersion> {
  const response = await fetch(apiUrl(base, path), {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const a = (answer ?? {}) as Record<string, unknown>;
    const detail = typeof a.detail === "string" ? a.detail : `${response.status} ${response.statusText}`;
    throw new ConfigRefusal(
      response.status,
      typeof a.reason === "string" ? a.reason : "refused",
      typeof a.field === "string" ? a.field : null,
      detail,
    );
  }
  return configVersionSchema.parse(answer);
}

/** Either the raw YAML or the document as the form edited it. */
export type ConfigEdit = { yaml: string } | { document: Record<string, unknown> };

export function putConfig(
  base: string,
  edgeId: string,
  token: string,
  edit: ConfigEdit,
  comment: string | null,
): Promise<ConfigVersion> {
  return send(base, "PUT", `/api/edges/${encodeURIComponent(edgeId)}/config`, token, { ...edit, comment });
}

export function rollbackConfig(
  base: string,
  edgeId: string,
  token: string,
  version: number,
  comment: string | null,
): Promise<ConfigVersion> {
  return send(base, "POST", `/api/edges/${encodeURIComponent(edgeId)}/config/rollback`, token, { version, comment });
}
