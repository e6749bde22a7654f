"use client";

import { useCallback, useEffect, useState } from "react";
import { env } from "@/config/env";
import { useSession } from "@/features/auth/SessionProvider";
import { SUBSCRIPTIONS_PATH, call, subscriptionListSchema, type Subscription } from "./api";
import { PERIOD_KINDS, badRecipient, splitRecipients, type PeriodKind } from "./period";

/** E-mail subscriptions of this site: who gets which report, and how the last send went. */
export function Subscriptions({ edgeId }: { edgeId: string }) {
  const { token } = useSession();
  const base = env.NEXT_PUBLIC_EMS_API_BASE;
  const [items, setItems] = useState<Subscription[]>([]);
  const [kind, setKind] = useState<PeriodKind>("month");
  const [recipients, setRecipients] = useState("");
  const [problem, setProblem] = useState<string | null>(null);

  const reload = useCallback(() => {
    const access = token();
    if (!access) return Promise.resolve();
    return call(base, SUBSCRIPTIONS_PATH, access)
      .then(async (response) => subscriptionListSchema.parse(await response.json()))
      .then(
        (all) => setItems(all.filter((s) => s.edge_id === edgeId)),
        (err: unknown) => setProblem(err instanceof Error ? err.message : "subscriptions unavailable"),
      );
  }, [base, edgeId, token]);

  useEffect(() => {
    void reload();
  }, [reload]);

  const add = async () => {
    const access = token();
    if (!access) return;
    const addresses = splitRecipients(recipients);
    const bad = badRecipient(addresses);
    if (bad) {
      setProblem(`not an e-mail address: ${bad}`);
      return;
    }
    try {
      await call(base, SUBSCRIPTIONS_PATH, access, {
        method: "POST",
        body: { edge_id: edgeId, period: kind, recipients: addresses },
      });
      setRecipients("");
      setProblem(null);
      await reload();
    } catch (err) {
      setProblem(err instanceof Error ? err.message : "not subscribed");
    }
  };

  const remove = async (id: string) => {
    const access = token();
    if (!access) return;
    try {
      await call(base, `${SUBSCRIPTIONS_PATH}/${encodeURIComponent(id)}`, access, { method: "DELETE" });
      await reload();
    } catch (err) {
      setProblem(err instanceof Error ? err.message : "not removed");
    }
  };

  return (
    <section aria-label="E-mail subscriptions">
      <h2>E-mail subscriptions</h2>
      <table>
        <thead>
          <tr>
            <th>Period</th>
            <th>Recipients</th>
            <th>Next due</th>
            <th>Status</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {items.map((s) => (
            <tr key={s.id}>
              <td>{s.period}</td>
              <td>{s.recipients.join(", ")}</td>
              <td>{s.due.slice(0, 16).replace("T", " ")} UTC</td>
              <td>
                <span className={s.status === "scheduled" ? "badge" : "badge badge-bad"}>{s.status}</span>
                {s.last_error && <span className="muted"> {s.last_error} ({s.attempts} attempts)</span>}
              </td>
              <td>
                <button type="button" onClick={() => void remove(s.id)}>
                  Unsubscribe
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        className="row"
        aria-label="Subscribe"
        onSubmit={(ev) => {
          ev.preventDefault();
          void add();
        }}
      >
        <select aria-label="Subscription period" value={kind} onChange={(ev) => setKind(ev.target.value as PeriodKind)}>
          {PERIOD_KINDS.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <input
          aria-label="Recipients"
          placeholder="name@example.org, …"
          value={recipients}
          onChange={(ev) => setRecipients(ev.target.value)}
        />
        <button type="submit">Subscribe</button>
      </form>
      {problem && (
        <p className="badge badge-bad" role="alert">
          {problem}
        </p>
      )}
    </section>
  );
}
