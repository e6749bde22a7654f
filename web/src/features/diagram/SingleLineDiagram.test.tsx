import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { SingleLineDiagram } from "./SingleLineDiagram";

afterEach(cleanup);

const NOW = Date.parse("2026-06-21T12:00:10.000Z");
const fresh = "2026-06-21T12:00:09.500Z";
const devices = { battery: "battery_1", grid: "grid", pv: "pv_1", load: "load" };

describe("SingleLineDiagram", () => {
  it("shows each branch's power and direction", () => {
    render(
      <SingleLineDiagram
        nowMs={NOW}
        staleAfterS={5}
        devices={devices}
        channels={{
          "grid/ActivePower": { v: -1200, t: fresh },
          "pv_1/ActivePower": { v: 3000, t: fresh },
          "battery_1/ActivePower": { v: -1500, t: fresh },
          "battery_1/Soc": { v: 55.25, t: fresh },
          "load/ActivePower": { v: 300, t: fresh },
        }}
      />,
    );
    const grid = screen.getByTestId("branch-grid");
    expect(grid.dataset.direction).toBe("exporting");
    expect(grid.textContent).toContain("1.20 kW");
    expect(grid.textContent).toContain("exporting to the grid");
    expect(screen.getByTestId("branch-battery").dataset.direction).toBe("charging");
    expect(screen.getByTestId("value-soc").textContent).toContain("55.3 %");
    // Arrows: grid (left) exports → flows right to left; battery (below) charges → flows down.
    expect(screen.getByTestId("wire-grid").textContent).toBe("←");
    expect(screen.getByTestId("wire-battery").textContent).toBe("↓");
    expect(screen.getByTestId("wire-pv").textContent).toBe("↓");
    expect(screen.getByTestId("wire-load").textContent).toBe("→");
    expect(screen.queryByText(/stale|no data/)).toBeNull();
    // Each card says when its sample was measured, so a repeated value still shows as new.
    expect(grid.dataset.sampledAt).toBe(fresh);
  });

  it("marks stale values and stops their arrows", () => {
    render(
      <SingleLineDiagram
        nowMs={NOW}
        staleAfterS={5}
        devices={devices}
        channels={{ "grid/ActivePower": { v: 800, t: "2026-06-21T11:59:00.000Z" } }}
      />,
    );
    const grid = screen.getByTestId("branch-grid");
    expect(grid.dataset.freshness).toBe("stale");
    expect(grid.textContent).toContain("800 W");
    expect(grid.textContent).toContain("stale: 70 s old");
    expect(screen.getByTestId("wire-grid").className).toContain("flow-none");
  });

  it("shows missing values as missing, not as zero", () => {
    render(<SingleLineDiagram nowMs={NOW} staleAfterS={5} devices={devices} channels={undefined} />);
    for (const branch of ["grid", "pv", "battery", "load"]) {
      const card = screen.getByTestId(`branch-${branch}`);
      expect(card.dataset.freshness).toBe("missing");
      expect(screen.getByTestId(`value-${branch}`).textContent).toBe("—");
      expect(card.textContent).not.toMatch(/\b0 W/);
      expect(screen.getByTestId(`wire-${branch}`).textContent).toBe("");
    }
    expect(screen.getByTestId("value-soc").textContent).toContain("—");
  });

  it("says so when the cloud marks the edge stale", () => {
    const channels = { "grid/ActivePower": { v: 100, t: fresh } };
    const { rerender } = render(
      <SingleLineDiagram nowMs={NOW} staleAfterS={5} devices={devices} channels={channels} />,
    );
    expect(screen.queryByTestId("edge-silent")).toBeNull();
    rerender(
      <SingleLineDiagram nowMs={NOW} staleAfterS={5} devices={devices} channels={channels} edgeSilent />,
    );
    expect(screen.getByTestId("edge-silent").textContent).toContain("Stale");
  });
});
