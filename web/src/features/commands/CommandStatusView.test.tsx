import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { CommandStatusView } from "./CommandStatusView";
import type { Step, TrackedCommand } from "./tracker";
import { describeCommand, reasonSentence, REASON_WORDS, STATUS_WORDS, type ShownStatus } from "./wording";

afterEach(cleanup);

function command(current: Step, action = "set_active_power", value: number | string = -2500): TrackedCommand {
  return {
    command_id: "22222222-2222-4222-8222-222222222222",
    edge_id: "site-1",
    device: "battery_1",
    action,
    value,
    issued_at: "2026-06-21T12:00:00.000Z",
    current,
    history: [current],
  };
}

const AT = "2026-06-21T12:00:01.000Z";

/** Every reason code of DESIGN section 4, the README and the frames. */
const DESIGN_REASONS = [
  "invalid_payload", "unauthorized", "forbidden", "rate_limited", "replay", "stale_timestamp",
  "unknown_edge", "unknown_device", "unknown_action", "out_of_range", "exceeds_dynamic_limit",
  "stale_telemetry", "no_telemetry", "queue_full", "edge_offline", "edge_timeout",
  "timeout_in_queue", "revalidation_failed", "superseded", "expired", "controller_error",
  "malformed_json", "unknown_type",
];

describe("CommandStatusView", () => {
  it.each(Object.keys(STATUS_WORDS) as ShownStatus[])("shows status %s in words", (status) => {
    render(<CommandStatusView command={command({ status, reason: null, detail: null, at: AT })} />);
    const view = screen.getByRole("article");
    expect(view.dataset.status).toBe(status);
    expect(view.textContent).toContain(STATUS_WORDS[status].label);
    expect(view.textContent).toContain(STATUS_WORDS[status].sentence);
  });

  it.each(DESIGN_REASONS)("says reason %s as a sentence, not as a code", (reason) => {
    expect(REASON_WORDS[reason], reason).toBeDefined();
    render(
      <CommandStatusView
        command={command({ status: "rejected", reason, detail: "the cloud's detail", at: AT })}
      />,
    );
    const view = screen.getByRole("article");
    expect(view.textContent).toContain(REASON_WORDS[reason]);
    expect(view.textContent).toContain("Details: the cloud's detail");
    expect(REASON_WORDS[reason]).not.toContain("_");
  });

  it("says an unknown reason readably", () => {
    expect(reasonSentence("brownout_detected")).toBe("The cloud gave the reason “brownout detected”.");
  });

  it("makes charge and discharge unmistakable", () => {
    expect(describeCommand("set_active_power", -2500)).toBe("Charge at 2,500 W");
    expect(describeCommand("set_active_power", 3000)).toBe("Discharge at 3,000 W");
    expect(describeCommand("set_active_power", 0)).toBe("Hold at 0 W (idle)");
    expect(describeCommand("set_mode", "auto")).toBe("Release to automatic control");
    expect(describeCommand("set_mode", "manual")).toBe("Mode: manual");
  });

  it("lists every step with its reason", () => {
    const c = command({ status: "queued", reason: null, detail: "position 1", at: AT });
    c.history = [
      { status: "sending", reason: null, detail: null, at: "2026-06-21T12:00:00.000Z" },
      { status: "queued", reason: null, detail: "position 1", at: AT },
      { status: "failed", reason: "timeout_in_queue", detail: null, at: "2026-06-21T12:05:00.000Z" },
    ];
    render(<CommandStatusView command={c} />);
    const steps = screen.getByRole("list", { name: "Status history" });
    expect(steps.children).toHaveLength(3);
    expect(steps.textContent).toContain(REASON_WORDS.timeout_in_queue);
  });
});
