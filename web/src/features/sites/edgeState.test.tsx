import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { EdgeStateBadge } from "./EdgeStateBadge";
import { edgeState } from "./edgeState";

afterEach(cleanup);

describe("edgeState", () => {
  it.each([
    [true, false, "online"],
    [true, true, "stale"],
    [true, undefined, "online"],
    [false, true, "offline"],
    [false, false, "offline"],
  ] as const)("online=%s stale=%s is %s", (online, stale, state) => {
    expect(edgeState(online, stale)).toBe(state);
  });
});

describe("EdgeStateBadge", () => {
  it("says stale in words, not only in colour", () => {
    render(<EdgeStateBadge state="stale" testId="b" />);
    const badge = screen.getByTestId("b");
    expect(badge.dataset.state).toBe("stale");
    expect(badge.className).toContain("badge-warn");
    expect(badge.textContent).toContain("Stale");
    expect(badge.textContent).toContain("silent");
  });
});
