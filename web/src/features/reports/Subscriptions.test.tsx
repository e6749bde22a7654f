import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Subscriptions } from "./Subscriptions";

vi.mock("@/features/auth/SessionProvider", () => ({
  useSession: () => ({ token: () => "t0k3n" }),
}));

const RETRYING = {
  id: "abc",
  edge_id: "site-1",
  period: "month",
  recipients: ["ann@example.test"],
  created_by: "ann",
  due: "2026-03-31T22:16:00.000Z",
  status: "retrying",
  attempts: 1,
  last_error: "smtp://127.0.0.1:25 answered 451",
  last_sent_at: null,
};

interface Call {
  url: string;
  method: string;
  body: unknown;
}

let calls: Call[] = [];
let listing: unknown[] = [];

beforeEach(() => {
  calls = [];
  listing = [RETRYING, { ...RETRYING, id: "other", edge_id: "site-2" }];
  vi.stubGlobal(
    "fetch",
    vi.fn((url: string, init: RequestInit) => {
      const method = init.method ?? "GET";
      calls.push({ url, method, body: init.body ? JSON.parse(String(init.body)) : undefined });
      const body = method === "GET" ? listing : { ...RETRYING, id: "new", status: "scheduled" };
      return Promise.resolve(new Response(JSON.stringify(body), { status: method === "POST" ? 201 : 200 }));
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("Subscriptions", () => {
  it("lists this site's subscriptions with a failed send's status and reason", async () => {
    render(<Subscriptions edgeId="site-1" />);
    expect(await screen.findByText("retrying")).toBeTruthy();
    expect(screen.getByText(/answered 451 \(1 attempts\)/)).toBeTruthy();
    expect(screen.getAllByRole("button", { name: "Unsubscribe" })).toHaveLength(1); // not site-2's
    expect(calls[0]?.url).toBe("/api/reports/subscriptions");
  });

  it("names a bad address and sends nothing, then subscribes a good one", async () => {
    render(<Subscriptions edgeId="site-1" />);
    await screen.findByText("retrying");
    fireEvent.change(screen.getByLabelText("Recipients"), { target: { value: "ann@example.test, nobody" } });
    fireEvent.click(screen.getByRole("button", { name: "Subscribe" }));
    expect((await screen.findByRole("alert")).textContent).toBe("not an e-mail address: nobody");
    expect(calls.filter((c) => c.method === "POST")).toEqual([]);

    fireEvent.change(screen.getByLabelText("Subscription period"), { target: { value: "week" } });
    fireEvent.change(screen.getByLabelText("Recipients"), { target: { value: "ann@example.test; bo@example.test" } });
    fireEvent.click(screen.getByRole("button", { name: "Subscribe" }));
    await waitFor(() => expect(calls.filter((c) => c.method === "POST")).toHaveLength(1));
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({
      edge_id: "site-1",
      period: "week",
      recipients: ["ann@example.test", "bo@example.test"],
    });
  });
});
