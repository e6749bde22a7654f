"use client";

import { useId, useState } from "react";
import { CommandStatusView } from "@/features/commands/CommandStatusView";
import type { TrackedCommand } from "@/features/commands/tracker";
import type { ControllerInfo, ParamSpec } from "@/lib/api";
import type { Channels, ControllerSettings } from "@/lib/frames";
import { checkSettings, currentValues, whoIsInCharge, type Draft, type ParamValue } from "./settings";

type Send = (command: { edge_id: string; device: string; action: string; value: ControllerSettings; ttl_s?: number }) => string;

interface Props {
  edgeId: string;
  controllers: ControllerInfo[];
  channels: Channels | undefined;
  /** Null for a viewer: the values are shown, the form is not. */
  send: Send | null;
  commands: TrackedCommand[];
}

/** Who drives the battery and why, and each controller's runtime settings. */
export function ControlPanel({ edgeId, controllers, channels, send, commands }: Props) {
  const ids = useId();
  if (controllers.length === 0) return null;
  const charge = whoIsInCharge(controllers, channels);
  const settable = controllers.filter((c) => c.params.length > 0);
  return (
    <section className="panel" aria-labelledby={`${ids}-h`} data-testid="control-panel">
      <h2 id={`${ids}-h`}>Automatic control</h2>
      <dl className="limits" aria-label="Battery control">
        <div>
          <dt>Mode</dt>
          <dd data-testid="control-mode">{charge.mode ?? "unknown"}</dd>
        </div>
        <div>
          <dt>In charge of the battery</dt>
          <dd data-testid="control-in-charge">{charge.controller ? charge.controller.id.replace(/_/g, " ") : "none (idle)"}</dd>
        </div>
        <div>
          <dt>Why</dt>
          <dd data-testid="control-state">{charge.state ? charge.state.replace(/_/g, " ") : "every controller stands aside"}</dd>
        </div>
        {charge.controller && charge.controller.params.length > 0 && (
          <div>
            <dt>Its settings</dt>
            <dd data-testid="control-target">{settingsText(charge.controller, currentValues(charge.controller, channels))}</dd>
          </div>
        )}
      </dl>
      {settable.map((c) => (
        <ControllerSettingsForm
          key={c.id}
          edgeId={edgeId}
          controller={c}
          current={currentValues(c, channels)}
          state={channels?.[`${c.id}/State`]?.v}
          send={send}
          latest={commands.find((cmd) => cmd.device === c.id && cmd.action === "set_controller")}
        />
      ))}
    </section>
  );
}

function settingsText(controller: ControllerInfo, values: Record<string, ParamValue>): string {
  return controller.params
    .map((p) => `${p.name.replace(/_/g, " ").replace(/ w$/, "")} ${values[p.name] === null ? "unknown" : String(values[p.name])}${p.unit ? ` ${p.unit}` : ""}`)
    .join(", ");
}

interface FormProps {
  edgeId: string;
  controller: ControllerInfo;
  current: Record<string, ParamValue>;
  state: unknown;
  send: Send | null;
  latest: TrackedCommand | undefined;
}

function ControllerSettingsForm({ edgeId, controller, current, state, send, latest }: FormProps) {
  const ids = useId();
  const [draft, setDraft] = useState<Draft>({});
  const { changes, errors } = checkSettings(controller.params, draft, current);
  const valid = Object.keys(errors).length === 0 && Object.keys(changes).length > 0;
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (!send || !valid) return;
    send({ edge_id: edgeId, device: controller.id, action: "set_controller", value: changes });
    setDraft({});
  };
  const title = controller.id.replace(/_/g, " ");
  return (
    <form onSubmit={submit} className="form" aria-labelledby={`${ids}-h`} data-testid={`controller-${controller.id}`}>
      <h3 id={`${ids}-h`}>
        {title} <span className="muted small">({typeof state === "string" ? state.replace(/_/g, " ") : "no state yet"})</span>
      </h3>
      {controller.params.map((p) => (
        <ParamField
          key={p.name}
          id={`${ids}-${p.name}`}
          param={p}
          current={current[p.name] ?? null}
          draft={draft[p.name]}
          error={errors[p.name]}
          readOnly={send === null}
          onChange={(v) => setDraft((d) => ({ ...d, [p.name]: v }))}
        />
      ))}
      {send !== null && (
        <button type="submit" disabled={!valid}>
          Apply {title} settings
        </button>
      )}
      {latest && <CommandStatusView command={latest} testId={`controller-${controller.id}-command`} />}
    </form>
  );
}

interface FieldProps {
  id: string;
  param: ParamSpec;
  current: ParamValue;
  draft: string | boolean | undefined;
  error: string | undefined;
  readOnly: boolean;
  onChange: (value: string | boolean) => void;
}

function ParamField({ id, param, current, draft, error, readOnly, onChange }: FieldProps) {
  const label = `${param.name.replace(/_/g, " ").replace(/ w$/, "")}${param.unit ? ` [${param.unit}]` : ""}`;
  if (readOnly) {
    return (
      <p className="field" data-testid={`param-${param.name}`}>
        {label}: <strong>{current === null ? "unknown" : String(current)}</strong>
      </p>
    );
  }
  if (param.type === "boolean") {
    const checked = typeof draft === "boolean" ? draft : current === true;
    return (
      <label className="check">
        <input id={id} type="checkbox" name={param.name} checked={checked} onChange={(e) => onChange(e.target.checked)} /> {label}
      </label>
    );
  }
  const text = typeof draft === "string" ? draft : current === null ? "" : String(current);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={param.name}
        type="number"
        inputMode="decimal"
        step={100}
        min={param.min ?? undefined}
        max={param.max ?? undefined}
        value={text}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      {error && (
        <p id={`${id}-error`} className="hint hint-warn" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
