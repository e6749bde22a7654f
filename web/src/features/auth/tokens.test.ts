import { describe, expect, it, vi } from "vitest";
import {
  canCommand,
  jwtExpiry,
  loadSession,
  refreshDelayMs,
  revokeSession,
  saveSession,
  sessionFrom,
  type Session,
} from "./tokens";

function jwt(claims: object): string {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${b64({ alg: "EdDSA" })}.${b64(claims)}.sig`;
}

describe("tokens", () => {
  it("reads the expiry from the access token", () => {
    expect(jwtExpiry(jwt({ exp: 1_800_000_000 }))).toBe(1_800_000_000_000);
    expect(jwtExpiry("garbage")).toBeNull();
  });

  it("falls back to expires_in when the token has no exp", () => {
    const s = sessionFrom({ access: "a.b.c", refresh: "r", expires_in: 900, user: "u", role: "viewer" }, 1000);
    expect(s.accessExpiresAt).toBe(901_000);
  });

  it("refreshes a tenth of the lifetime before expiry, at least 30 s before", () => {
    const s = (leftMs: number): Session => ({ user: "u", role: "operator", access: "a", refresh: "r", accessExpiresAt: leftMs });
    expect(refreshDelayMs(s(900_000), 0)).toBe(810_000);
    expect(refreshDelayMs(s(60_000), 0)).toBe(30_000);
    expect(refreshDelayMs(s(10_000), 0)).toBe(0);
  });

  it("lets operators and admins command, viewers not", () => {
    expect(canCommand("operator")).toBe(true);
    expect(canCommand("admin")).toBe(true);
    expect(canCommand("viewer")).toBe(false);
  });

  it("keeps the session in the tab's storage and drops a corrupt one", () => {
    const s: Session = { user: "u", role: "viewer", access: "a", refresh: "r", accessExpiresAt: 5 };
    saveSession(sessionStorage, s);
    expect(loadSession(sessionStorage)).toEqual(s);
    sessionStorage.setItem("ems.session", "{broken");
    expect(loadSession(sessionStorage)).toBeNull();
    expect(sessionStorage.getItem("ems.session")).toBeNull();
  });

  it("logs out at the auth service with both tokens", async () => {
    const fetchFn = vi.fn(async () => new Response("{}", { status: 200 }));
    const ok = await revokeSession("https://ems.example", { access: "A", refresh: "R" }, fetchFn);
    expect(ok).toBe(true);
    expect(fetchFn).toHaveBeenCalledWith("https://ems.example/auth/logout", {
      method: "POST",
      headers: { Authorization: "Bearer A", "Content-Type": "application/json" },
      body: JSON.stringify({ refresh: "R" }),
    });
  });

  it("treats a refused or failed logout as done locally", async () => {
    const refused = vi.fn(async () => new Response("{}", { status: 401 }));
    expect(await revokeSession("", { access: "A", refresh: "R" }, refused)).toBe(false);
    const down = vi.fn(async () => {
      throw new TypeError("network down");
    });
    expect(await revokeSession("", { access: "A", refresh: "R" }, down)).toBe(false);
  });
});
