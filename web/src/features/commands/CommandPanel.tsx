"use client";

import { useId, useState } from "react";
import type { Reading } from "@/features/diagram/flow";
import { CommandStatusView } from "./CommandStatusView";
import { setpointHint, signedSetpoint, type Way } from "./limits";
import type { TrackedCommand } from "./tracker";
import { formatWatts } from "./wording";

interface Props {
  edgeId: string;
  battery: string;
  maxCharge: Reading;
  maxDischarge: Reading;
  online: boolean | null;
  send: (command: { edge_id: string; device: string; action: string; value: number | string; ttl_s?: number }) => string;
  commands: TrackedCommand[];
}

/** Battery setpoint and mode, and what became of the commands sent from here. */
export function CommandPanel({ edgeId, battery, maxCharge, maxDischarge, online, send, commands }: Props) {
  const [way, setWay] = useState<Way>("discharge");
  const [text, setText] = useState("");
  const [mode, setMode] = useState<"manual" | "auto">("auto");
  const [ttl, setTtl] = useState("300");
  const ids = useId();
  const magnitude = text.trim() === "" ? null : Number(text);
  const hint = setpointHint(way, magnitude, { maxCharge, maxDischarge });
  const valid = magnitude !== null && Number.isFinite(magnitude) && magnitude >= 0;
  const ttlS = Math.min(3600, Math.max(1, Math.round(Number(ttl) || 300)));
  const latest = commands[0];

  const submitSetpoint = (e: React.FormEvent) => {
    e.preventDefault();
    if (!valid) return;
    send({ edge_id: edgeId, device: battery, action: "set_active_power", value: signedSetpoint(way, magnitude), ttl_s: ttlS });
  };
  const submitMode = (e: React.FormEvent) => {
    e.preventDefault();
    send({ edge_id: edgeId, device: battery, action: "set_mode", value: mode, ttl_s: ttlS });
  };

  return (
    <section className="panel" aria-labelledby={`${ids}-h`} data-testid="command-panel">
      <h2 id={`${ids}-h`}>Commands</h2>
      {online === false && (
        <p className="badge badge-warn" role="status">
          The site is offline: commands wait in its queue for up to the time below.
        </p>
      )}
      <form onSubmit={submitSetpoint} className="form" aria-labelledby={`${ids}-sp`}>
        <h3 id={`${ids}-sp`}>Battery power setpoint</h3>
        <fieldset className="way">
          <legend>Direction</legend>
          <label className={`way-option way-charge ${way === "charge" ? "chosen" : ""}`}>
            <input type="radio" name="way" value="charge" checked={way === "charge"} onChange={() => setWay("charge")} />
            Charge <span className="muted">(battery takes power)</span>
          </label>
          <label className={`way-option way-discharge ${way === "discharge" ? "chosen" : ""}`}>
            <input type="radio" name="way" value="discharge" checked={way === "discharge"} onChange={() => setWay("discharge")} />
            Discharge <span className="muted">(battery gives power)</span>
          </label>
        </fieldset>
        <div className="field-row">
          <div className="field">
            <label htmlFor={`${ids}-power`}>Power [W]</label>
            <input
              id={`${ids}-power`}
              name="power"
              type="number"
              inputMode="numeric"
              min={0}
              step={100}
              value={text}
              onChange={(e) => setText(e.target.value)}
              aria-describedby={`${ids}-limits ${ids}-hint`}
              required
            />
          </div>
          <dl className="limits" id={`${ids}-limits`} aria-label="Current limits">
            <div>
              <dt>Max charge now</dt>
              <dd data-testid="limit-charge">{limitText(maxCharge)}</dd>
            </div>
            <div>
              <dt>Max discharge now</dt>
              <dd data-testid="limit-discharge">{limitText(maxDischarge)}</dd>
            </div>
          </dl>
        </div>
        <p id={`${ids}-hint`} className={hint ? "hint hint-warn" : "hint"} aria-live="polite">
          {hint ??
            (valid
              ? `Sends ${signedSetpoint(way, magnitude).toLocaleString("en-US")} W: the battery ${way === "charge" ? "charges" : "discharges"} at ${formatWatts(magnitude)}.`
              : "")}
        </p>
        <button type="submit" className={`primary send-${way}`} disabled={!valid}>
          {valid ? `Send: ${way} at ${formatWatts(magnitude)}` : `Send ${way} setpoint`}
        </button>
      </form>

      <form onSubmit={submitMode} className="form" aria-labelledby={`${ids}-mode`}>
        <h3 id={`${ids}-mode`}>Battery mode</h3>
        <fieldset>
          <legend>Mode</legend>
          <label>
            <input type="radio" name="mode" value="manual" checked={mode === "manual"} onChange={() => setMode("manual")} />
            Manual <span className="muted">(held by the operator, 0 W until a setpoint is sent)</span>
          </label>
          <label>
            <input type="radio" name="mode" value="auto" checked={mode === "auto"} onChange={() => setMode("auto")} />
            Auto <span className="muted">(released to the automatic controllers; clears the setpoint)</span>
          </label>
        </fieldset>
        <button type="submit">Send mode: {mode}</button>
      </form>

      <div className="field ttl">
        <label htmlFor={`${ids}-ttl`}>If the site is offline, wait in its queue at most [s]</label>
        <input
          id={`${ids}-ttl`}
          type="number"
          min={1}
          max={3600}
          step={1}
          value={ttl}
          onChange={(e) => setTtl(e.target.value)}
        />
      </div>

      <h3>Sent from this dashboard</h3>
      {latest ? (
        <div className="command-list">
          <CommandStatusView command={latest} testId="latest-command" />
          {commands.slice(1, 6).map((c) => (
            <CommandStatusView key={c.command_id} command={c} />
          ))}
        </div>
      ) : (
        <p className="muted">No commands yet.</p>
      )}
    </section>
  );
}

function limitText(r: Reading): string {
  if (r.value === null) return "unknown";
  const text = `${Math.round(r.value).toLocaleString("en-US")} W`;
  return r.freshness === "stale" ? `${text} (stale)` : text;
}
