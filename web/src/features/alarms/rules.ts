import { z } from "zod";
import { apiUrl } from "@/lib/api";
import { SEVERITIES, type Channels, type Severity } from "@/lib/frames";

/**
 * Alarm rules as admins edit them (DESIGN 14: `GET/POST/PUT/DELETE /api/alarm-rules`).
 * The form checks what it can before sending; the API has the last word, and its
 * refusal (`{reason, field, detail}`) is shown next to the field it names.
 */

export const RULE_FIELDS = ["edge_id", "channel", "operator", "threshold", "for_s", "deadband", "severity"] as const;
export type RuleField = (typeof RULE_FIELDS)[number];

export const ruleSchema = z.object({
  rule_id: z.string(),
  edge_id: z.string(),
  channel: z.string(),
  operator: z.enum([">", "<"]),
  threshold: z.number(),
  for_s: z.number(),
  deadband: z.number(),
  severity: z.enum(SEVERITIES),
});
export type RuleRow = z.infer<typeof ruleSchema>;
export const ruleListSchema = z.object({ rules: z.array(ruleSchema) });

/** The form's state: numbers as typed, so a half-typed "1." is not lost. */
export interface RuleDraft {
  edge_id: string;
  channel: string;
  operator: ">" | "<";
  threshold: string;
  for_s: string;
  deadband: string;
  severity: Severity;
}
export const EMPTY_DRAFT: RuleDraft = {
  edge_id: "",
  channel: "",
  operator: ">",
  threshold: "",
  for_s: "0",
  deadband: "0",
  severity: "medium",
};

export type FieldErrors = Partial<Record<RuleField | "form", string>>;

/** The cloud's bound on `for_s` (ems.alarms.rules.MAX_FOR_S). */
export const MAX_FOR_S = 86_400;

export function draftOf(rule: RuleRow): RuleDraft {
  return {
    edge_id: rule.edge_id,
    channel: rule.channel,
    operator: rule.operator,
    threshold: String(rule.threshold),
    for_s: String(rule.for_s),
    deadband: String(rule.deadband),
    severity: rule.severity,
  };
}

/** Numeric channels of the edge's latest telemetry, sorted: what a rule can watch. */
export function numericChannels(channels: Channels | undefined): string[] {
  return Object.entries(channels ?? {})
    .filter(([, sample]) => typeof sample.v === "number")
    .map(([address]) => address)
    .sort();
}

function parseNumber(text: string): number | null {
  if (text.trim() === "") return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/** The draft's errors by field (empty: it can be sent). `known`: the edge's channels,
 * `null` when nothing is known of the edge yet (then the API decides). */
export function validateDraft(draft: RuleDraft, known: readonly string[] | null): FieldErrors {
  const errors: FieldErrors = {};
  if (!draft.edge_id) errors.edge_id = "Pick a site.";
  if (!draft.channel) errors.channel = "Pick a channel.";
  else if (known !== null && known.length > 0 && !known.includes(draft.channel))
    errors.channel = `${draft.channel} is not a channel of ${draft.edge_id}.`;
  const threshold = parseNumber(draft.threshold);
  if (threshold === null) errors.threshold = "Threshold must be a number.";
  const forS = parseNumber(draft.for_s);
  if (forS === null || forS < 0 || forS > MAX_FOR_S) errors.for_s = `Delay must be a number from 0 to ${MAX_FOR_S} s.`;
  const deadband = parseNumber(draft.deadband);
  if (deadband === null || deadband < 0) errors.deadband = "Deadband must be a number, 0 or more.";
  return errors;
}

/** The JSON body of POST/PUT (call after `validateDraft` found nothing). */
export function ruleBody(draft: RuleDraft): Record<string, unknown> {
  return {
    edge_id: draft.edge_id,
    channel: draft.channel,
    operator: draft.operator,
    threshold: Number(draft.threshold),
    for_s: Number(draft.for_s),
    deadband: Number(draft.deadband),
    severity: draft.severity,
  };
}

/** The API's refusal, placed next to the field it names (or on the form). */
export function refusalErrors(status: number, answer: unknown): FieldErrors {
  const a = (answer && typeof answer === "object" ? answer : {}) as Record<string, unknown>;
  const detail = typeof a.detail === "string" ? a.detail : `Refused (${status}).`;
  const reason = typeof a.reason === "string" ? a.reason : null;
  const text = reason === "unknown_channel" ? `Unknown channel: ${detail}` : detail;
  const field = typeof a.field === "string" && (RULE_FIELDS as readonly string[]).includes(a.field) ? (a.field as RuleField) : "form";
  return { [field]: text };
}

export class RuleRefusal extends Error {
  constructor(readonly errors: FieldErrors) {
    super(Object.values(errors).join(" "));
    this.name = "RuleRefusal";
  }
}

/** Create (`ruleId` null), replace or delete a rule; a refusal throws `RuleRefusal`. */
export async function sendRule(
  base: string,
  token: string,
  method: "POST" | "PUT" | "DELETE",
  ruleId: string | null,
  body?: Record<string, unknown>,
): Promise<void> {
  const path = ruleId === null ? "/api/alarm-rules" : `/api/alarm-rules/${encodeURIComponent(ruleId)}`;
  const response = await fetch(apiUrl(base, path), {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new RuleRefusal(refusalErrors(response.status, await response.json().catch(() => null)));
}
