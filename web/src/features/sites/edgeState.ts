/** What an operator must know about an edge's connection, from the cloud's edge_status. */
export type EdgeState = "online" | "stale" | "offline";

/** Stale counts only while connected: an offline edge is offline, whatever its last flag. */
export function edgeState(online: boolean, stale: boolean | undefined): EdgeState {
  if (!online) return "offline";
  return stale ? "stale" : "online";
}

export const EDGE_STATE_VIEW: Record<EdgeState, { label: string; badge: string; hint: string }> = {
  online: { label: "Online", badge: "badge-good", hint: "connected and reporting" },
  stale: {
    label: "Stale",
    badge: "badge-warn",
    hint: "connected but silent: its values may be frozen and commands may not be carried out",
  },
  offline: { label: "Offline", badge: "badge-bad", hint: "not connected: commands wait in its queue" },
};
