"use client";

import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { useSession } from "@/features/auth/SessionProvider";
import { ApiError } from "@/lib/api";

/** Sign in with the auth service's user name and password. */
export default function LoginPage() {
  const { session, login, notice } = useSession();
  const router = useRouter();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (session) router.replace("/sites/");
  }, [session, router]);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      await login(username, password);
    } catch (err) {
      setProblem(
        err instanceof ApiError && err.status === 401
          ? "Wrong user name or password."
          : `Sign-in failed: ${err instanceof Error ? err.message : "the auth service did not answer"}`,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="page login">
      <h1>EMS dashboard</h1>
      <form onSubmit={submit} className="panel form" aria-labelledby="login-h">
        <h2 id="login-h">Sign in</h2>
        {notice && (
          <p className="badge badge-warn" role="status">
            {notice}
          </p>
        )}
        <div className="field">
          <label htmlFor="username">User name</label>
          <input
            id="username"
            name="username"
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
          />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </div>
        {problem && (
          <p className="badge badge-bad" role="alert">
            {problem}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
