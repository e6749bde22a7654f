"use client";

import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import { env } from "@/config/env";
import { ApiError, postJson } from "@/lib/api";
import {
  loadSession,
  refreshDelayMs,
  revokeSession,
  saveSession,
  sessionFrom,
  tokenBodySchema,
  type Session,
} from "./tokens";

export interface SessionApi {
  /** `undefined` until the stored session was read (first render in the browser). */
  session: Session | null | undefined;
  login: (username: string, password: string) => Promise<void>;
  logout: (notice?: string) => void;
  /** Refresh the access token now; `false` when the session has ended. */
  refresh: () => Promise<boolean>;
  /** The current access token, read at the moment of use. */
  token: () => string | null;
  /** Why the last session ended, when it was not the user's choice. */
  notice: string | null;
}

const SessionContext = createContext<SessionApi | null>(null);

const RETRY_REFRESH_MS = 10_000;

export function SessionProvider({ children }: { children: React.ReactNode }) {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  const current = useRef<Session | null>(null);
  const refreshing = useRef<Promise<boolean> | null>(null);

  const adopt = useCallback((next: Session | null) => {
    current.current = next;
    saveSession(window.sessionStorage, next);
    setSession(next);
  }, []);

  useEffect(() => {
    const stored = loadSession(window.sessionStorage);
    current.current = stored;
    // Read after hydration: the exported HTML was rendered without a session.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    setSession(stored);
  }, []);

  const logout = useCallback(
    (why?: string) => {
      const ending = current.current;
      adopt(null);
      setNotice(why ?? null);
      if (ending) {
        // Ends the user's sessions everywhere (the cloud closes their sockets).
        void revokeSession(env.NEXT_PUBLIC_EMS_API_BASE, ending);
      }
    },
    [adopt],
  );

  const refresh = useCallback((): Promise<boolean> => {
    if (refreshing.current) return refreshing.current;
    const now = current.current;
    if (!now) return Promise.resolve(false);
    const attempt = postJson(
      env.NEXT_PUBLIC_EMS_API_BASE,
      "/auth/token/refresh",
      { refresh: now.refresh },
      tokenBodySchema,
    )
      .then((body) => {
        if (current.current === null) return false; // logged out meanwhile
        adopt(sessionFrom(body, Date.now()));
        return true;
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError && (err.status === 401 || err.status === 400)) {
          logout("Your session has ended. Sign in again.");
          return false;
        }
        return current.current !== null; // the auth service is unreachable: try again later
      })
      .finally(() => {
        refreshing.current = null;
      });
    refreshing.current = attempt;
    return attempt;
  }, [adopt, logout]);

  // Refresh the access token before it expires, and again after a failed try.
  useEffect(() => {
    if (!session) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const plan = (ms: number) => {
      timer = setTimeout(() => {
        void refresh().then((ok) => {
          if (ok && current.current === session) plan(RETRY_REFRESH_MS);
        });
      }, ms);
    };
    plan(refreshDelayMs(session, Date.now()));
    return () => clearTimeout(timer);
  }, [session, refresh]);

  const login = useCallback(
    async (username: string, password: string) => {
      const body = await postJson(
        env.NEXT_PUBLIC_EMS_API_BASE,
        "/auth/token",
        { username, password },
        tokenBodySchema,
      );
      setNotice(null);
      adopt(sessionFrom(body, Date.now()));
    },
    [adopt],
  );

  const token = useCallback(() => current.current?.access ?? null, []);

  const api = useMemo<SessionApi>(
    () => ({ session, login, logout, refresh, token, notice }),
    [session, login, logout, refresh, token, notice],
  );
  return <SessionContext.Provider value={api}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionApi {
  const api = useContext(SessionContext);
  if (!api) throw new Error("useSession outside SessionProvider");
  return api;
}
