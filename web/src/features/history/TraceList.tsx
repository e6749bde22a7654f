import { formatTime } from "@/features/commands/CommandStatusView";
import { reasonSentence } from "@/features/commands/wording";
import type { TraceEntry } from "@/lib/api";

/** Waypoints in words; an event not listed here is shown by its name. */
export const EVENT_WORDS: Record<string, string> = {
  "cloud.received": "Cloud received it",
  "cloud.validated": "Cloud checks passed",
  "cloud.queued": "Queued at the cloud",
  "cloud.sent": "Cloud sent it to the edge",
  "cloud.routed": "Cloud handed it to the process holding the edge",
  "cloud.acked": "Cloud reported the status",
  "cloud.timed_out": "Cloud gave up waiting",
  "cloud.late_ack": "Late answer from the edge (recorded only)",
  "cloud.trace_refused": "Refused a trace line from another edge",
  "edge.received": "Edge received it",
  "edge.duplicate": "Edge received it again (not run again)",
  "edge.request_written": "Edge wrote the request",
  "edge.request_refused": "Edge refused it",
  "controller.executed": "Controller carried it out",
  "controller.failed": "Controller did not carry it out",
};

/** The command's audit trace: cloud and edge waypoints in time order. */
export function TraceList({ entries }: { entries: TraceEntry[] }) {
  if (entries.length === 0) return null;
  return (
    <ol className="steps" aria-label="Audit trace">
      {entries.map((e, i) => (
        <li key={`${e.at}-${e.event}-${i}`} data-source={e.source}>
          <time dateTime={e.at}>{formatTime(e.at)}</time>{" "}
          <span className="badge">{e.source === "edge" ? "Edge" : "Cloud"}</span>{" "}
          {EVENT_WORDS[e.event] ?? e.event}
          {e.status && <span className="muted"> · {e.status}</span>}
          {e.reason && <> — {reasonSentence(e.reason)}</>}
          {e.detail && <span className="muted"> ({e.detail})</span>}
        </li>
      ))}
    </ol>
  );
}
