import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ControllerInfo } from "@/lib/api";
import type { Channels } from "@/lib/frames";
import { ControlPanel } from "./ControlPanel";

afterEach(cleanup);

const watts = (name: string, below: string | null = null) => ({ name, type: "number" as const, unit: "W", min: 0, max: null, below });
const CONTROLLERS: ControllerInfo[] = [
  { id: "peak_shaving", type: "peak_shaving", priority: 20, params: [watts("peak_import_w"), watts("recharge_below_w", "peak_import_w")] },
  { id: "manual_override", type: "manual_override", priority: 100, params: [] },
];
const sample = (v: string | number) => ({ v, t: "2026-01-01T00:00:00Z" });
const CHANNELS: Channels = {
  "manual_override/Mode": sample("auto"),
  "peak_shaving/State": sample("shaving"),
  "peak_shaving/PeakImportW": sample(5000),
  "peak_shaving/RechargeBelowW": sample(2000),
};

describe("ControlPanel", () => {
  it("says who drives the battery and why", () => {
    render(<ControlPanel edgeId="site-1" controllers={CONTROLLERS} channels={CHANNELS} send={null} commands={[]} />);
    expect(screen.getByTestId("control-mode").textContent).toBe("auto");
    expect(screen.getByTestId("control-in-charge").textContent).toBe("peak shaving");
    expect(screen.getByTestId("control-state").textContent).toBe("shaving");
    expect(screen.getByTestId("control-target").textContent).toBe("peak import 5000 W, recharge below 2000 W");
  });

  it("shows a viewer the values and no form", () => {
    render(<ControlPanel edgeId="site-1" controllers={CONTROLLERS} channels={CHANNELS} send={null} commands={[]} />);
    expect(screen.getByTestId("param-peak_import_w").textContent).toContain("5000");
    expect(screen.queryByRole("button")).toBeNull();
    expect(screen.queryByRole("spinbutton")).toBeNull();
  });

  it("refuses a recharge level above the peak and sends only a valid change", () => {
    const send = vi.fn(() => "id");
    render(<ControlPanel edgeId="site-1" controllers={CONTROLLERS} channels={CHANNELS} send={send} commands={[]} />);
    const apply = screen.getByRole("button", { name: "Apply peak shaving settings" });
    expect(apply).toHaveProperty("disabled", true); // nothing changed yet
    fireEvent.change(screen.getByLabelText("recharge below [W]"), { target: { value: "6000" } });
    expect(screen.getByRole("alert").textContent).toMatch(/below peak import w/);
    expect(apply).toHaveProperty("disabled", true);
    fireEvent.change(screen.getByLabelText("peak import [W]"), { target: { value: "7000" } });
    expect(screen.queryByRole("alert")).toBeNull();
    fireEvent.click(apply);
    expect(send).toHaveBeenCalledWith({
      edge_id: "site-1",
      device: "peak_shaving",
      action: "set_controller",
      value: { peak_import_w: 7000, recharge_below_w: 6000 },
    });
  });
});
