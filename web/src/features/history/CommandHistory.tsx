"use client";

import { useCallback, useEffect, useId, useState } from "react";
import { env } from "@/config/env";
import { StatusBadge, StepList, formatTime } from "@/features/commands/CommandStatusView";
import { describeCommand, reasonSentence } from "@/features/commands/wording";
import { commandListSchema, commandRecordSchema, getJson, type CommandRecord } from "@/lib/api";
import { TraceList } from "./TraceList";

interface Props {
  edgeId: string;
  token: () => string | null;
  /** Changes whenever a command of this site reached a final status: reload then. */
  version: number;
}

/** The site's commands from every user, newest first, each with its trace on demand. */
export function CommandHistory({ edgeId, token, version }: Props) {
  const ids = useId();
  const [records, setRecords] = useState<CommandRecord[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [open, setOpen] = useState<Record<string, CommandRecord | "loading" | "error">>({});

  const reload = useCallback(() => {
    const access = token();
    if (!access) return Promise.resolve();
    return getJson(
      env.NEXT_PUBLIC_EMS_API_BASE,
      `/api/commands?edge_id=${encodeURIComponent(edgeId)}&limit=50`,
      access,
      commandListSchema,
    ).then(
      (list) => {
        setRecords(list.commands);
        setProblem(null);
      },
      (err: unknown) => setProblem(err instanceof Error ? err.message : "history unavailable"),
    );
  }, [edgeId, token]);

  useEffect(() => {
    void reload();
  }, [reload, version]);

  const toggle = async (id: string) => {
    if (open[id]) {
      setOpen((o) => Object.fromEntries(Object.entries(o).filter(([key]) => key !== id)));
      return;
    }
    setOpen((o) => ({ ...o, [id]: "loading" }));
    const access = token();
    try {
      if (!access) throw new Error("signed out");
      const record = await getJson(env.NEXT_PUBLIC_EMS_API_BASE, `/api/commands/${id}`, access, commandRecordSchema);
      setOpen((o) => ({ ...o, [id]: record }));
    } catch {
      setOpen((o) => ({ ...o, [id]: "error" }));
    }
  };

  return (
    <section className="panel" aria-labelledby={`${ids}-h`} data-testid="command-history">
      <div className="panel-head">
        <h2 id={`${ids}-h`}>Command history</h2>
        <button type="button" onClick={() => void reload()}>
          Refresh
        </button>
      </div>
      {problem && <p className="badge badge-bad" role="alert">{problem}</p>}
      {records === null ? (
        <p className="muted">Loading…</p>
      ) : records.length === 0 ? (
        <p className="muted">No commands for this site yet.</p>
      ) : (
        <ul className="history">
          {records.map((r) => {
            const trace = open[r.command_id];
            return (
              <li key={r.command_id} data-status={r.status}>
                <div className="history-row">
                  <time dateTime={r.created_at}>{formatDate(r.created_at)}</time>
                  <span>{r.user}</span>
                  <span>{describeCommand(r.action, r.value)}</span>
                  <StatusBadge status={r.status} />
                  <button
                    type="button"
                    aria-expanded={Boolean(trace)}
                    aria-controls={`trace-${r.command_id}`}
                    onClick={() => void toggle(r.command_id)}
                  >
                    {trace ? "Hide trace" : "Trace"}
                  </button>
                </div>
                {r.reason && <p className="command-reason">{reasonSentence(r.reason)}</p>}
                {trace && (
                  <div id={`trace-${r.command_id}`} className="trace">
                    {trace === "loading" ? (
                      <p className="muted">Loading trace…</p>
                    ) : trace === "error" ? (
                      <p className="badge badge-bad">The trace could not be read.</p>
                    ) : (
                      <>
                        <p className="muted">
                          {r.device} · {r.action} · id {r.command_id}
                        </p>
                        <StepList steps={trace.history ?? []} />
                        <TraceList entries={trace.trace ?? []} />
                      </>
                    )}
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

function formatDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : `${d.toLocaleDateString("en-CA")} ${formatTime(iso).slice(0, 8)}`;
}
