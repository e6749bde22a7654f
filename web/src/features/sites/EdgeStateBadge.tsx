import { EDGE_STATE_VIEW, type EdgeState } from "./edgeState";

/** Online / Stale / Offline, with what it means on hover and for screen readers. */
export function EdgeStateBadge({ state, testId }: { state: EdgeState; testId?: string }) {
  const view = EDGE_STATE_VIEW[state];
  return (
    <span className={`badge ${view.badge}`} title={view.hint} data-state={state} data-testid={testId}>
      {view.label}
      <span className="sr-only">: {view.hint}</span>
    </span>
  );
}
