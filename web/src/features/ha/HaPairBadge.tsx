import type { Channels } from "@/lib/frames";

/**
 * An edge run as an active-passive pair (`ems edge --ha-node`): which box leads,
 * the other box and whether the leader reaches it. Only the leader speaks to the
 * cloud, so this is the leader's view; nothing is shown for a single box.
 */
export function HaPairBadge({ channels }: { channels: Channels | undefined }) {
  const node = text(channels, "_ha/Node");
  if (node === null) return null;
  const peer = text(channels, "_ha/Peer");
  const peerConnected = channels?.["_ha/PeerConnected"]?.v;
  const term = channels?.["_ha/Term"]?.v;
  const standby =
    peerConnected === true ? "standing by" : peerConnected === false ? "unreachable" : "state unknown";
  return (
    <p
      className={`small ${peerConnected === true ? "" : "badge badge-warn"}`}
      data-testid="ha-pair"
      data-leader={node}
      data-peer-connected={peerConnected === undefined ? "unknown" : String(peerConnected)}
    >
      High availability: <strong>{node}</strong> leads
      {peer !== null && (
        <>
          {" · "}
          <strong>{peer}</strong> {standby}
        </>
      )}
      {typeof term === "number" && <span className="muted"> (Raft term {term})</span>}
    </p>
  );
}

function text(channels: Channels | undefined, address: string): string | null {
  const v = channels?.[address]?.v;
  return typeof v === "string" && v !== "" ? v : null;
}
