import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { HaPairBadge } from "./HaPairBadge";

afterEach(cleanup);

const t = "2026-06-21T12:00:09.500Z";

describe("HaPairBadge", () => {
  it("shows nothing for a single box", () => {
    const { container } = render(<HaPairBadge channels={{ "grid/ActivePower": { v: 1, t } }} />);
    expect(container.textContent).toBe("");
  });

  it("names the leading box and its standby", () => {
    render(
      <HaPairBadge
        channels={{
          "_ha/Node": { v: "edge-a", t },
          "_ha/Peer": { v: "edge-b", t },
          "_ha/PeerConnected": { v: true, t },
          "_ha/Term": { v: 7, t },
        }}
      />,
    );
    const badge = screen.getByTestId("ha-pair");
    expect(badge.textContent).toBe("High availability: edge-a leads · edge-b standing by (Raft term 7)");
    expect(badge.dataset.leader).toBe("edge-a");
    expect(badge.dataset.peerConnected).toBe("true");
    expect(badge.className).not.toContain("badge-warn");
  });

  it("warns when the leader has lost the other box", () => {
    render(
      <HaPairBadge
        channels={{
          "_ha/Node": { v: "edge-b", t },
          "_ha/Peer": { v: "edge-a", t },
          "_ha/PeerConnected": { v: false, t },
        }}
      />,
    );
    const badge = screen.getByTestId("ha-pair");
    expect(badge.textContent).toContain("edge-b leads · edge-a unreachable");
    expect(badge.className).toContain("badge-warn");
  });
});
