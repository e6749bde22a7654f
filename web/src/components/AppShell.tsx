"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect } from "react";
import { AlarmCount } from "@/features/alarms/AlarmCount";
import { useSession } from "@/features/auth/SessionProvider";
import { useLive } from "@/features/live/LiveProvider";
import { ConnectionStatus } from "./ConnectionStatus";
import { useNow } from "./useNow";

/** Header (sites, connection, user, sign-out) and the notices; signs out users without a session. */
export function AppShell({ children }: { children: React.ReactNode }) {
  const { session, logout } = useSession();
  const live = useLive();
  const router = useRouter();
  const now = useNow(1000);

  useEffect(() => {
    if (session === null) router.replace("/");
  }, [session, router]);

  if (!session) return <p className="muted page">Loading…</p>;

  return (
    <>
      <header className="topbar">
        <Link href="/sites/" className="brand">
          EMS
        </Link>
        <nav aria-label="Main">
          <Link href="/sites/">Sites</Link> <Link href="/overview/">Overview</Link> <AlarmCount />
        </nav>
        <ConnectionStatus state={live.state} nowMs={now} onRetry={live.retryNow} />
        <div className="who">
          <span data-testid="user">
            {session.user} <span className="muted">({session.role})</span>
          </span>
          <button type="button" onClick={() => logout()}>
            Log out
          </button>
        </div>
      </header>
      <div className="notices" aria-live="polite" aria-label="Notifications">
        {live.notices.map((n) => (
          <div key={n.id} className={`notice tone-${n.tone}`} role="status">
            <span>
              Command {n.commandId.slice(0, 8)}: {n.text}
            </span>
            <button type="button" className="link" onClick={() => live.dismiss(n.id)} aria-label="Dismiss notification">
              ×
            </button>
          </div>
        ))}
      </div>
      {live.lastError && (
        <p className="badge badge-bad page" role="alert">
          The cloud answered: {live.lastError}
        </p>
      )}
      <main className="page">{children}</main>
    </>
  );
}

