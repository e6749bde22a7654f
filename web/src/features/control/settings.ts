import type { Channels, ControllerSettings } from "@/lib/frames";
import type { ControllerInfo, ParamSpec } from "@/lib/api";

/**
 * Who drives the battery and the controller settings form's rules, as pure functions.
 *
 * The edge publishes each controller's `<id>/State`, manual override's `<id>/Mode`
 * and every settable parameter as `<id>/<CamelName>` (e.g. `TargetGridW`).
 */

/** `target_grid_w` → `TargetGridW`: the status channel the edge shows a parameter on. */
export function statusChannel(controllerId: string, param: string): string {
  const camel = param
    .split("_")
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join("");
  return `${controllerId}/${camel}`;
}

export type ParamValue = number | boolean | null;

/** The parameters' values in force, from the live telemetry (null: not reported yet). */
export function currentValues(controller: ControllerInfo, channels: Channels | undefined): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const p of controller.params) {
    const v = channels?.[statusChannel(controller.id, p.name)]?.v;
    out[p.name] = typeof v === "number" || typeof v === "boolean" ? v : null;
  }
  return out;
}

// States in which a controller writes nothing for the battery.
const STANDING_ASIDE = new Set(["disabled", "standby", "starting"]);

export interface InCharge {
  mode: "manual" | "auto" | null;
  /** The controller whose decision the battery follows, or null when none acts. */
  controller: ControllerInfo | null;
  /** Its `State` (or `manual` for a manual hold): why it is in charge. */
  state: string | null;
}

/**
 * The controller in charge: manual override while in manual mode; otherwise the
 * most important automatic controller that is acting (the last write wins,
 * and the highest priority runs last).
 */
export function whoIsInCharge(controllers: ControllerInfo[], channels: Channels | undefined): InCharge {
  const manual = controllers.find((c) => c.type === "manual_override");
  const modeValue = manual ? channels?.[`${manual.id}/Mode`]?.v : undefined;
  const mode = modeValue === "manual" || modeValue === "auto" ? modeValue : null;
  if (manual && mode === "manual") return { mode, controller: manual, state: "manual" };
  const automatic = controllers.filter((c) => c.type !== "manual_override").sort((a, b) => b.priority - a.priority);
  for (const c of automatic) {
    const state = channels?.[`${c.id}/State`]?.v;
    if (typeof state === "string" && !STANDING_ASIDE.has(state)) return { mode, controller: c, state };
  }
  return { mode, controller: null, state: null };
}

/** What the form holds: the text typed per number field, the box per switch (untouched: absent). */
export type Draft = Record<string, string | boolean>;

export interface Checked {
  /** Only the parameters that differ from the values in force. */
  changes: ControllerSettings;
  /** Parameter name → what is wrong with it. */
  errors: Record<string, string>;
}

function unitOf(p: ParamSpec): string {
  return p.unit ? ` ${p.unit}` : "";
}

/** The form checked as the edge will check it: type, range, and `below` against the value in force. */
export function checkSettings(params: ParamSpec[], draft: Draft, current: Record<string, ParamValue>): Checked {
  const errors: Record<string, string> = {};
  const wanted: Record<string, number | boolean> = {};
  for (const p of params) {
    const raw = draft[p.name];
    if (raw === undefined) continue;
    if (p.type === "boolean") {
      if (typeof raw === "boolean") wanted[p.name] = raw;
      continue;
    }
    const text = String(raw).trim();
    const value = text === "" ? NaN : Number(text);
    if (!Number.isFinite(value)) {
      errors[p.name] = "Enter a number.";
    } else if (p.min !== null && value < p.min) {
      errors[p.name] = `At least ${p.min}${unitOf(p)}.`;
    } else if (p.max !== null && value > p.max) {
      errors[p.name] = `At most ${p.max}${unitOf(p)}.`;
    } else {
      wanted[p.name] = value;
    }
  }
  for (const p of params) {
    if (p.below === null || errors[p.name] || errors[p.below]) continue;
    const mine = wanted[p.name] ?? current[p.name];
    const limit = wanted[p.below] ?? current[p.below];
    if (typeof mine === "number" && typeof limit === "number" && mine >= limit) {
      errors[p.name] = `Must be below ${p.below.replace(/_/g, " ")} (${limit}${unitOf(p)}).`;
    }
  }
  const changes: ControllerSettings = {};
  for (const [name, value] of Object.entries(wanted)) {
    if (value !== current[name]) changes[name] = value;
  }
  return { changes, errors };
}
