"use client";

import type { ConnectionState } from "@/lib/connection";

/** The live connection's state in words, with a way to retry at once while waiting. */
export function ConnectionStatus({
  state,
  nowMs,
  onRetry,
}: {
  state: ConnectionState;
  nowMs: number;
  onRetry: () => void;
}) {
  let text: string;
  let tone: string;
  switch (state.phase) {
    case "open":
      text = "Live";
      tone = "good";
      break;
    case "connecting":
      text = state.attempt > 0 ? `Reconnecting (attempt ${state.attempt + 1})…` : "Connecting…";
      tone = "progress";
      break;
    case "reconnecting": {
      const s = Math.max(0, Math.ceil(((state.retryAt ?? nowMs) - nowMs) / 1000));
      text = `Disconnected: retrying in ${s} s`;
      tone = "bad";
      break;
    }
    case "stopped":
      text = "Not connected";
      tone = "bad";
      break;
  }
  return (
    <div className="connection" role="status" aria-live="polite" data-testid="connection" data-phase={state.phase}>
      <span className={`badge badge-${tone}`}>{text}</span>
      {state.phase === "reconnecting" && (
        <>
          {state.lastProblem && <span className="muted small"> {state.lastProblem}</span>}{" "}
          <button type="button" className="link" onClick={onRetry}>
            Retry now
          </button>
        </>
      )}
    </div>
  );
}
