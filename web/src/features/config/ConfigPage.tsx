"use client";

import Link from "next/link";
import { useCallback, useEffect, useId, useState } from "react";
import { env } from "@/config/env";
import { useSession } from "@/features/auth/SessionProvider";
import { ConfigRefusal, getConfig, putConfig, rollbackConfig, type ConfigEdit, type ConfigListing } from "./api";
import { FieldProblem, applySections, sectionsOf, statusText, type SectionDraft } from "./form";

/** How often the page asks again while the newest version awaits the edge's answer [ms]. */
const POLL_MS = 2000;

/** One edge's config: a form for controllers' parameters and the tariff, the raw YAML,
 * the history with rollback, and the fate of the newest version. Admins only. */
export function ConfigPage({ edgeId }: { edgeId: string }) {
  const ids = useId();
  const { session, token } = useSession();
  const [listing, setListing] = useState<ConfigListing | null>(null);
  const [sections, setSections] = useState<SectionDraft[]>([]);
  const [yamlText, setYamlText] = useState("");
  const [comment, setComment] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const base = env.NEXT_PUBLIC_EMS_API_BASE;

  const reload = useCallback(
    (resetDrafts: boolean) => {
      const access = token();
      if (!access) return;
      getConfig(base, edgeId, access).then(
        (found) => {
          setListing(found);
          if (resetDrafts && found.current) {
            setSections(sectionsOf(found.current.document));
            setYamlText(found.current.yaml);
          }
        },
        (err: unknown) => setProblem(err instanceof Error ? err.message : "config unavailable"),
      );
    },
    [base, edgeId, token],
  );

  useEffect(() => reload(true), [reload]);

  const waiting = listing?.current?.status === "pushed";
  useEffect(() => {
    if (!waiting) return;
    const timer = setInterval(() => reload(false), POLL_MS);
    return () => clearInterval(timer);
  }, [waiting, reload]);

  const submit = (work: (access: string) => Promise<unknown>) => {
    const access = token();
    if (!access) return;
    setBusy(true);
    setProblem(null);
    work(access)
      .then(() => {
        setComment("");
        reload(true);
      })
      .catch((err: unknown) => {
        if (err instanceof ConfigRefusal) setProblem(`${err.reason}${err.field ? ` (${err.field})` : ""}: ${err.message}`);
        else setProblem(err instanceof Error ? err.message : "refused");
      })
      .finally(() => setBusy(false));
  };

  const save = (edit: ConfigEdit) => submit((access) => putConfig(base, edgeId, access, edit, comment || null));

  const saveForm = () => {
    if (!listing?.current) return;
    try {
      save({ document: applySections(listing.current.document, sections) });
    } catch (err) {
      setProblem(err instanceof FieldProblem ? err.message : "the form has an error");
    }
  };

  const edit = (s: number, f: number, text: string) =>
    setSections((old) =>
      old.map((section, i) =>
        i !== s ? section : { ...section, fields: section.fields.map((field, j) => (j === f ? { ...field, text } : field)) },
      ),
    );

  if (session && session.role !== "admin") {
    return <p className="muted" data-testid="config-admins-only">Only admins manage an edge&apos;s config.</p>;
  }
  const current = listing?.current ?? null;
  return (
    <div className="site" data-testid="config-page">
      <div className="site-head">
        <h1>{edgeId}: configuration</h1>
        <Link href={`/site/?id=${encodeURIComponent(edgeId)}`}>back to the site</Link>
      </div>
      {problem && (
        <p className="badge badge-bad" role="alert" data-testid="config-problem">
          {problem}
        </p>
      )}
      <section className="panel" aria-labelledby={`${ids}-status`}>
        <h2 id={`${ids}-status`}>Newest version</h2>
        {current ? (
          <p data-testid="config-status">
            Version {current.version} by {current.by}: {statusText(current.status, current.reason, current.detail)}
            {listing?.applied != null && listing.applied !== current.version && ` (the edge runs version ${listing.applied})`}
          </p>
        ) : (
          <p className="muted">No version stored yet: the edge runs its local file. Paste its YAML below to start.</p>
        )}
        <label>
          Comment <input value={comment} onChange={(e) => setComment(e.target.value)} maxLength={500} />
        </label>
      </section>
      {sections.map((section, s) => (
        <section className="panel" key={section.path.join(".")} aria-label={section.title}>
          <h2>{section.title}</h2>
          {section.fields.length === 0 && <p className="muted small">No parameters set (defaults apply).</p>}
          {section.fields.map((field, f) => (
            <label key={field.path} className="field">
              {field.key}{" "}
              {field.kind === "boolean" ? (
                <select value={field.text} onChange={(e) => edit(s, f, e.target.value)} aria-label={field.path}>
                  <option value="true">true</option>
                  <option value="false">false</option>
                </select>
              ) : (
                <input value={field.text} onChange={(e) => edit(s, f, e.target.value)} aria-label={field.path} />
              )}
            </label>
          ))}
        </section>
      ))}
      {current && (
        <button type="button" disabled={busy} onClick={saveForm} data-testid="config-save-form">
          Save and push the form
        </button>
      )}
      <section className="panel" aria-labelledby={`${ids}-yaml`}>
        <h2 id={`${ids}-yaml`}>YAML</h2>
        <textarea
          value={yamlText}
          onChange={(e) => setYamlText(e.target.value)}
          rows={24}
          cols={90}
          spellCheck={false}
          aria-label="Config YAML"
          data-testid="config-yaml"
        />
        <button type="button" disabled={busy || !yamlText.trim()} onClick={() => save({ yaml: yamlText })}>
          Save and push the YAML
        </button>
      </section>
      <section className="panel" aria-labelledby={`${ids}-history`}>
        <h2 id={`${ids}-history`}>History</h2>
        <table data-testid="config-history">
          <thead>
            <tr>
              <th>Version</th>
              <th>By</th>
              <th>When</th>
              <th>Comment</th>
              <th>Status</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(listing?.history ?? []).map((v) => (
              <tr key={v.version}>
                <td>
                  {v.version}
                  {v.rollback_of != null && <span className="muted small"> (= {v.rollback_of})</span>}
                </td>
                <td>{v.by}</td>
                <td>{new Date(v.at).toLocaleString("en-GB")}</td>
                <td>{v.comment ?? ""}</td>
                <td title={v.detail ?? undefined}>
                  {v.status}
                  {v.reason ? ` (${v.reason})` : ""}
                </td>
                <td>
                  {current && v.version !== current.version && (
                    <button
                      type="button"
                      disabled={busy}
                      onClick={() => submit((access) => rollbackConfig(base, edgeId, access, v.version, comment || null))}
                    >
                      Roll back to this
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}
