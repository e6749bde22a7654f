import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigPage } from "./ConfigPage";

const session = { user: "ada", role: "admin" };
vi.mock("@/features/auth/SessionProvider", () => ({
  useSession: () => ({ session, token: () => "t0ken" }),
}));

const T = "2026-01-01T00:00:00Z";
const version = (n: number, status: string, extra: Record<string, unknown> = {}) => ({
  version: n,
  by: "ada",
  at: T,
  comment: null,
  rollback_of: null,
  status,
  reason: null,
  detail: null,
  status_at: T,
  ...extra,
});
const DOCUMENT = {
  edge_id: "site-1",
  controllers: [{ id: "self_consumption", type: "self_consumption", priority: 10, params: { target_grid_w: 0 } }],
};
const LISTING = {
  edge_id: "site-1",
  current: {
    ...version(2, "rejected", { reason: "build_failed", detail: "battery_9 is not a battery" }),
    yaml: "edge_id: site-1\n",
    document: DOCUMENT,
  },
  applied: 1,
  history: [version(2, "rejected", { reason: "build_failed" }), version(1, "applied")],
};

type Call = { url: string; method: string; body: unknown };
let calls: Call[] = [];

function answer(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

beforeEach(() => {
  calls = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init?: RequestInit) => {
      const method = init?.method ?? "GET";
      calls.push({ url, method, body: init?.body ? JSON.parse(String(init.body)) : null });
      if (method === "GET") return answer(LISTING);
      if (method === "PUT") {
        const body = JSON.parse(String(init?.body)) as { document?: typeof DOCUMENT };
        const target = body.document?.controllers[0]?.params.target_grid_w;
        if (target === 999) {
          return answer({ reason: "invalid_config", field: "controllers[0].params.target_grid_w", detail: "too big" }, 422);
        }
        return answer(version(3, "pushed"), 201);
      }
      return answer(version(3, "pushed", { rollback_of: 1 }), 201);
    }),
  );
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("ConfigPage", () => {
  it("shows why the newest version was rejected and which one the edge runs", async () => {
    render(<ConfigPage edgeId="site-1" />);
    const status = await screen.findByTestId("config-status");
    expect(status.textContent).toContain("rejected by the edge (build_failed): battery_9 is not a battery");
    expect(status.textContent).toContain("the edge runs version 1");
  });

  it("sends the form's edited parameter as the document", async () => {
    render(<ConfigPage edgeId="site-1" />);
    const input = await screen.findByLabelText("controllers[0].params.target_grid_w");
    fireEvent.change(input, { target: { value: "300" } });
    fireEvent.click(screen.getByTestId("config-save-form"));
    await waitFor(() => expect(calls.some((c) => c.method === "PUT")).toBe(true));
    const put = calls.find((c) => c.method === "PUT");
    expect(put?.url).toBe("/api/edges/site-1/config");
    expect(put?.body).toMatchObject({ document: { controllers: [{ params: { target_grid_w: 300 } }] } });
  });

  it("names the field the cloud refused", async () => {
    render(<ConfigPage edgeId="site-1" />);
    const input = await screen.findByLabelText("controllers[0].params.target_grid_w");
    fireEvent.change(input, { target: { value: "999" } });
    fireEvent.click(screen.getByTestId("config-save-form"));
    const problem = await screen.findByTestId("config-problem");
    expect(problem.textContent).toBe("invalid_config (controllers[0].params.target_grid_w): too big");
  });

  it("rolls back to an earlier version in one action", async () => {
    render(<ConfigPage edgeId="site-1" />);
    fireEvent.click(await screen.findByRole("button", { name: "Roll back to this" }));
    await waitFor(() => expect(calls.some((c) => c.method === "POST")).toBe(true));
    const post = calls.find((c) => c.method === "POST");
    expect(post?.url).toBe("/api/edges/site-1/config/rollback");
    expect(post?.body).toEqual({ version: 1, comment: null });
  });
});
