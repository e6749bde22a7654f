"use client";

import { useCallback, useEffect, useMemo, useState } from "react";
import { env } from "@/config/env";
import { useSession } from "@/features/auth/SessionProvider";
import { useLive } from "@/features/live/LiveProvider";
import { edgesSchema, getJson } from "@/lib/api";
import { SEVERITIES, type Severity } from "@/lib/frames";
import {
  draftOf,
  EMPTY_DRAFT,
  numericChannels,
  ruleBody,
  ruleListSchema,
  RuleRefusal,
  sendRule,
  validateDraft,
  type FieldErrors,
  type RuleDraft,
  type RuleField,
  type RuleRow,
} from "./rules";

/** The alarm rules of the sites the user sees; admins create, edit and delete them
 * (the API refuses others too), everyone else reads them. */
export function AlarmRules() {
  const { session, token } = useSession();
  const admin = session?.role === "admin";
  const [rules, setRules] = useState<RuleRow[] | null>(null);
  const [sites, setSites] = useState<string[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const [editing, setEditing] = useState<{ ruleId: string | null; draft: RuleDraft } | null>(null);
  const [round, setRound] = useState(0);
  const reload = useCallback(() => setRound((r) => r + 1), []);

  useEffect(() => {
    let stopped = false;
    const access = token();
    if (!access) return;
    const base = env.NEXT_PUBLIC_EMS_API_BASE;
    Promise.all([getJson(base, "/api/alarm-rules", access, ruleListSchema), getJson(base, "/api/edges", access, edgesSchema)])
      .then(([listed, edges]) => {
        if (stopped) return;
        setRules(listed.rules);
        setSites(edges.edges.map((e) => e.edge_id).sort());
        setProblem(null);
      })
      .catch((err: unknown) => {
        if (!stopped) setProblem(err instanceof Error ? err.message : "rules unavailable");
      });
    return () => {
      stopped = true;
    };
  }, [token, round]);

  const remove = async (rule: RuleRow) => {
    const access = token();
    if (!access || !window.confirm(`Delete alarm rule ${rule.rule_id} on ${rule.edge_id}?`)) return;
    try {
      await sendRule(env.NEXT_PUBLIC_EMS_API_BASE, access, "DELETE", rule.rule_id);
      setProblem(null);
    } catch (err) {
      setProblem(err instanceof Error ? err.message : "delete failed");
    }
    reload();
  };

  return (
    <section className="panel" aria-labelledby="rules-title">
      <h2 id="rules-title">Alarm rules</h2>
      {problem && (
        <p className="badge badge-bad" role="alert">
          Rules: {problem}
        </p>
      )}
      {rules === null ? (
        <p className="muted">Loading rules…</p>
      ) : rules.length === 0 ? (
        <p className="muted">No alarm rule.</p>
      ) : (
        <table className="rules" data-testid="alarm-rules">
          <thead>
            <tr>
              <th>Rule</th>
              <th>Site</th>
              <th>Condition</th>
              <th>Delay</th>
              <th>Deadband</th>
              <th>Severity</th>
              {admin && <th>Actions</th>}
            </tr>
          </thead>
          <tbody>
            {rules.map((rule) => (
              <tr key={rule.rule_id} data-rule={rule.rule_id}>
                <td>{rule.rule_id}</td>
                <td>{rule.edge_id}</td>
                <td>
                  {rule.channel} {rule.operator} {rule.threshold}
                </td>
                <td>{rule.for_s} s</td>
                <td>{rule.deadband}</td>
                <td>{rule.severity}</td>
                {admin && (
                  <td>
                    <button type="button" onClick={() => setEditing({ ruleId: rule.rule_id, draft: draftOf(rule) })}>
                      Edit {rule.rule_id}
                    </button>{" "}
                    <button type="button" onClick={() => void remove(rule)}>
                      Delete {rule.rule_id}
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {admin &&
        (editing ? (
          <RuleForm
            key={editing.ruleId ?? "new"}
            ruleId={editing.ruleId}
            initial={editing.draft}
            sites={sites}
            onDone={() => {
              setEditing(null);
              reload();
            }}
            onCancel={() => setEditing(null)}
          />
        ) : (
          <button type="button" onClick={() => setEditing({ ruleId: null, draft: { ...EMPTY_DRAFT, edge_id: sites[0] ?? "" } })}>
            New rule
          </button>
        ))}
    </section>
  );
}

function RuleForm({
  ruleId,
  initial,
  sites,
  onDone,
  onCancel,
}: {
  ruleId: string | null;
  initial: RuleDraft;
  sites: string[];
  onDone: () => void;
  onCancel: () => void;
}) {
  const { token } = useSession();
  const live = useLive();
  const [draft, setDraft] = useState<RuleDraft>(initial);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);

  // The edge's known channels come from its live telemetry.
  const { subscribe } = live;
  useEffect(() => (draft.edge_id ? subscribe(draft.edge_id) : undefined), [draft.edge_id, subscribe]);
  const channels = useMemo(() => numericChannels(live.telemetry.get(draft.edge_id)?.channels), [live.telemetry, draft.edge_id]);
  const choices = draft.channel && !channels.includes(draft.channel) ? [draft.channel, ...channels] : channels;

  const set = (field: RuleField, value: string) => {
    setDraft({ ...draft, [field]: value });
    setErrors({ ...errors, [field]: undefined, form: undefined });
  };

  const submit = async () => {
    const found = validateDraft(draft, channels.length > 0 ? channels : null);
    setErrors(found);
    const access = token();
    if (Object.keys(found).length > 0 || !access) return;
    setBusy(true);
    try {
      await sendRule(env.NEXT_PUBLIC_EMS_API_BASE, access, ruleId === null ? "POST" : "PUT", ruleId, ruleBody(draft));
      onDone();
    } catch (err) {
      setErrors(err instanceof RuleRefusal ? err.errors : { form: err instanceof Error ? err.message : "failed" });
    } finally {
      setBusy(false);
    }
  };

  const error = (field: RuleField | "form") =>
    errors[field] ? (
      <span className="badge badge-bad" role="alert" id={`rule-${field}-error`}>
        {errors[field]}
      </span>
    ) : null;

  return (
    <form
      className="rule-form"
      aria-label={ruleId === null ? "New alarm rule" : `Edit alarm rule ${ruleId}`}
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <div className="field-row">
        <div className="field">
          <label htmlFor="rule-edge_id">Site</label>
          <select id="rule-edge_id" value={draft.edge_id} disabled={ruleId !== null} onChange={(e) => setDraft({ ...draft, edge_id: e.target.value, channel: "" })}>
            <option value="">—</option>
            {[...new Set([...sites, ...(draft.edge_id ? [draft.edge_id] : [])])].map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
          {error("edge_id")}
        </div>
        <div className="field">
          <label htmlFor="rule-channel">Channel</label>
          <select id="rule-channel" value={draft.channel} onChange={(e) => set("channel", e.target.value)}>
            <option value="">{channels.length === 0 ? "No live channel yet" : "—"}</option>
            {choices.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
          {error("channel")}
        </div>
        <div className="field">
          <label htmlFor="rule-operator">When</label>
          <select id="rule-operator" value={draft.operator} onChange={(e) => set("operator", e.target.value)}>
            <option value=">">above</option>
            <option value="<">below</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="rule-threshold">Threshold</label>
          <input id="rule-threshold" inputMode="decimal" value={draft.threshold} onChange={(e) => set("threshold", e.target.value)} />
          {error("threshold")}
        </div>
        <div className="field">
          <label htmlFor="rule-for_s">For [s]</label>
          <input id="rule-for_s" inputMode="decimal" value={draft.for_s} onChange={(e) => set("for_s", e.target.value)} />
          {error("for_s")}
        </div>
        <div className="field">
          <label htmlFor="rule-deadband">Deadband</label>
          <input id="rule-deadband" inputMode="decimal" value={draft.deadband} onChange={(e) => set("deadband", e.target.value)} />
          {error("deadband")}
        </div>
        <div className="field">
          <label htmlFor="rule-severity">Severity</label>
          <select id="rule-severity" value={draft.severity} onChange={(e) => setDraft({ ...draft, severity: e.target.value as Severity })}>
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
      </div>
      {error("form")}
      <button type="submit" disabled={busy}>
        {ruleId === null ? "Create rule" : `Save ${ruleId}`}
      </button>{" "}
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </form>
  );
}
