import { z } from "zod";

/** Tokens from `POST /auth/token` and when to refresh them. */

export const tokenBodySchema = z.object({
  access: z.string().min(1),
  refresh: z.string().min(1),
  expires_in: z.number().positive(),
  user: z.string(),
  role: z.enum(["viewer", "operator", "admin"]),
});
export type TokenBody = z.infer<typeof tokenBodySchema>;
export type Role = TokenBody["role"];

export interface Session {
  user: string;
  role: Role;
  access: string;
  refresh: string;
  /** When the access token expires, epoch ms (from its `exp`, else from `expires_in`). */
  accessExpiresAt: number;
}

/** The `exp` claim of a JWT in epoch ms, or `null`; the signature is the cloud's business. */
export function jwtExpiry(token: string): number | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : null;
  } catch {
    return null;
  }
}

export function sessionFrom(body: TokenBody, nowMs: number): Session {
  return {
    user: body.user,
    role: body.role,
    access: body.access,
    refresh: body.refresh,
    accessExpiresAt: jwtExpiry(body.access) ?? nowMs + body.expires_in * 1000,
  };
}

/**
 * How long to wait before refreshing: a tenth of the lifetime before expiry
 * (at least 30 s before, never negative), so a slow answer still comes in time.
 */
export function refreshDelayMs(session: Session, nowMs: number): number {
  const left = session.accessExpiresAt - nowMs;
  const margin = Math.max(30_000, left / 10);
  return Math.max(0, left - margin);
}

export function canCommand(role: Role): boolean {
  return role === "operator" || role === "admin";
}

const STORAGE_KEY = "ems.session";
const storedSchema = z.object({
  user: z.string(),
  role: z.enum(["viewer", "operator", "admin"]),
  access: z.string(),
  refresh: z.string(),
  accessExpiresAt: z.number(),
});

/** The session of this tab (sessionStorage: gone when the tab closes). */
export function loadSession(storage: Storage): Session | null {
  const raw = storage.getItem(STORAGE_KEY);
  if (!raw) return null;
  try {
    return storedSchema.parse(JSON.parse(raw));
  } catch {
    storage.removeItem(STORAGE_KEY);
    return null;
  }
}

export function saveSession(storage: Storage, session: Session | null): void {
  if (session === null) storage.removeItem(STORAGE_KEY);
  else storage.setItem(STORAGE_KEY, JSON.stringify(session));
}

/**
 * Ends every session of the user at the auth service (`POST /auth/logout`): its
 * tokens, refresh tokens included, stop working on every cloud process and its
 * other tabs and devices are signed out. Best effort: the local session is gone
 * either way, so a failure is swallowed.
 */
export async function revokeSession(
  apiBase: string,
  session: Pick<Session, "access" | "refresh">,
  fetchFn: typeof fetch = fetch,
): Promise<boolean> {
  try {
    const response = await fetchFn(`${apiBase}/auth/logout`, {
      method: "POST",
      headers: { Authorization: `Bearer ${session.access}`, "Content-Type": "application/json" },
      body: JSON.stringify({ refresh: session.refresh }),
    });
    return response.ok;
  } catch {
    return false;
  }
}
