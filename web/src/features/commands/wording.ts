import type { AckStatus } from "@/lib/frames";

/** Every command status and reason code in plain words, for the operator. */

export type ShownStatus = AckStatus | "sending" | "unsent";
export type Tone = "progress" | "good" | "bad";

export interface StatusWords {
  label: string;
  sentence: string;
  tone: Tone;
}

export const STATUS_WORDS: Record<ShownStatus, StatusWords> = {
  sending: {
    label: "Sending",
    sentence: "Sent to the cloud; waiting for its answer.",
    tone: "progress",
  },
  unsent: {
    label: "Not sent",
    sentence: "There was no connection to the cloud, so nothing was sent. Nothing changed on site.",
    tone: "bad",
  },
  received: {
    label: "Received",
    sentence: "The cloud accepted the command and sent it to the site.",
    tone: "progress",
  },
  queued: {
    label: "Queued",
    sentence:
      "The site is offline. The command waits in its queue and goes out when the site reconnects, unless it expires first.",
    tone: "progress",
  },
  delivered: {
    label: "Delivered",
    sentence: "The site has the command and applies it in its next control cycle.",
    tone: "progress",
  },
  executed: {
    label: "Executed",
    sentence: "The site carried out the command.",
    tone: "good",
  },
  rejected: {
    label: "Rejected",
    sentence: "The command was refused and not carried out. Nothing changed on site.",
    tone: "bad",
  },
  failed: {
    label: "Failed",
    sentence: "The command was not carried out.",
    tone: "bad",
  },
};

/** The reason codes of DESIGN section 4 and the wire contract, each as a sentence. */
export const REASON_WORDS: Record<string, string> = {
  invalid_payload: "The command was not well formed (a wrong type or a missing value).",
  malformed_json: "The message was not valid JSON.",
  unknown_type: "The cloud does not know this kind of message.",
  unauthorized: "You are not signed in, or your sign-in has expired.",
  invalid_token: "Your sign-in was not accepted; sign in again.",
  forbidden: "Your role may not send commands.",
  rate_limited: "Too many commands in a short time; wait a moment and send again.",
  replay: "This command was already sent once; each command is carried out at most once.",
  stale_timestamp: "The command's time stamp is too far from the cloud's clock; check this device's clock.",
  unknown_edge: "The cloud does not know this site.",
  unknown_device: "The site has no such device.",
  unknown_action: "The device does not support this action.",
  out_of_range: "The value is outside what the device can ever take (its rated range).",
  exceeds_dynamic_limit: "The value is beyond what the battery can take right now (its current charge or discharge limit).",
  stale_telemetry: "The site's latest limits are too old to judge the value safely.",
  no_telemetry: "The site has not reported the limits needed to judge the value yet.",
  queue_full: "The site is offline and its command queue is full.",
  edge_offline: "The site is offline and commands are not queued for it.",
  edge_timeout: "The site did not confirm the command in time. It will not be carried out later.",
  timeout_in_queue: "The site stayed offline until the command expired in the queue; it was never sent.",
  revalidation_failed: "When it was about to apply the command, the site found it no longer within the device's current limits.",
  superseded: "A newer command replaced it before the site applied it.",
  expired: "It reached the site too late (past its deadline), so the site did not apply it.",
  controller_error: "The site's controller hit an error while applying it.",
  unknown_controller: "The site has no such controller (or none whose settings can be changed).",
  unknown_param: "The controller has no setting of that name that can be changed at runtime.",
  invalid_params: "The settings do not fit together or have the wrong type (e.g. the recharge level must stay below the peak).",
};

export function reasonSentence(reason: string): string {
  return REASON_WORDS[reason] ?? `The cloud gave the reason “${reason.replace(/_/g, " ")}”.`;
}

/** A command's effect in words: a signed battery setpoint becomes charge or discharge. */
export function describeCommand(action: string, value: unknown): string {
  if (action === "set_active_power" && typeof value === "number") {
    if (value > 0) return `Discharge at ${formatWatts(value)}`;
    if (value < 0) return `Charge at ${formatWatts(-value)}`;
    return "Hold at 0 W (idle)";
  }
  if (action === "set_mode" && typeof value === "string") {
    return value === "auto" ? "Release to automatic control" : `Mode: ${value}`;
  }
  if (action === "set_controller" && value !== null && typeof value === "object") {
    const changes = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${k.replace(/_/g, " ")} = ${String(v)}`);
    return `Controller settings: ${changes.join(", ")}`;
  }
  return `${action.replace(/_/g, " ")}: ${String(value)}`;
}

export function formatWatts(w: number): string {
  const abs = Math.abs(w);
  if (abs >= 10_000) return `${(w / 1000).toFixed(1)} kW`;
  return `${Math.round(w).toLocaleString("en-US")} W`;
}
