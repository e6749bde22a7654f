import { z } from "zod";
import { SEVERITIES } from "@/lib/frames";
import { edgeState, type EdgeState } from "@/features/sites/edgeState";

/**
 * The multi-site overview from `GET /api/sites/summary`: one request for the
 * whole fleet, then filtered, sorted and cut into pages here, so 500 sites
 * render one page of cards, not 500 live streams.
 */

const latest = z.object({ value: z.number(), time_s: z.number() }).nullable();
export const siteSummarySchema = z.object({
  edge_id: z.string(),
  online: z.boolean(),
  stale: z.boolean().default(false),
  last_seen: z.string().nullable(),
  values: z.object({
    pv_w: latest.default(null),
    grid_w: latest.default(null),
    battery_w: latest.default(null),
    soc_pct: latest.default(null),
    load_w: latest.default(null),
  }),
  active_alarms: z.array(z.object({ alarm_id: z.string(), rule: z.string(), severity: z.enum(SEVERITIES), state: z.string() })),
});
export type SiteSummary = z.infer<typeof siteSummarySchema>;
export const sitesSummarySchema = z.object({ sites: z.array(siteSummarySchema) });

export type SortKey = "name" | "alarms" | "pv" | "soc" | "state";
export interface SiteQuery {
  text: string; // part of the site id, any case
  state: "all" | EdgeState;
  alarmsOnly: boolean;
  sort: SortKey;
}
export const ALL_SITES: SiteQuery = { text: "", state: "all", alarmsOnly: false, sort: "name" };
export const PAGE_SIZE = 24;

export function stateOf(site: SiteSummary): EdgeState {
  return edgeState(site.online, site.stale);
}

export function filterSites(sites: readonly SiteSummary[], query: SiteQuery): SiteSummary[] {
  const text = query.text.trim().toLowerCase();
  return sites.filter(
    (s) =>
      (!text || s.edge_id.toLowerCase().includes(text)) &&
      (query.state === "all" || stateOf(s) === query.state) &&
      (!query.alarmsOnly || s.active_alarms.length > 0),
  );
}

const STATE_RANK: Record<EdgeState, number> = { offline: 0, stale: 1, online: 2 };

/** Descending for numbers (most alarms, most PV, fullest battery first), missing values last;
 * "state": the sites needing attention (offline, stale) first; the id breaks every tie. */
export function sortSites(sites: readonly SiteSummary[], key: SortKey): SiteSummary[] {
  const number = (s: SiteSummary): number | null => {
    if (key === "alarms") return s.active_alarms.length;
    if (key === "pv") return s.values.pv_w?.value ?? null;
    if (key === "soc") return s.values.soc_pct?.value ?? null;
    if (key === "state") return -STATE_RANK[stateOf(s)];
    return 0;
  };
  return [...sites].sort((a, b) => {
    const x = number(a);
    const y = number(b);
    if (x !== y) {
      if (x === null) return 1;
      if (y === null) return -1;
      return y - x;
    }
    return a.edge_id.localeCompare(b.edge_id);
  });
}

export function pageOf<T>(items: readonly T[], page: number, size = PAGE_SIZE): { items: T[]; page: number; pages: number } {
  const pages = Math.max(1, Math.ceil(items.length / size));
  const at = Math.min(Math.max(0, page), pages - 1);
  return { items: items.slice(at * size, (at + 1) * size), page: at, pages };
}

/** "3.2 kW", "850 W"; null (never reported) is "—", never 0. */
export function formatPower(w: number | null | undefined): string {
  if (w === null || w === undefined) return "—";
  if (Math.abs(w) >= 1000) return `${(w / 1000).toFixed(1)} kW`;
  return `${Math.round(w)} W`;
}

/** Grid power as what it means: importing or exporting. */
export function gridWords(w: number | null | undefined): string {
  if (w === null || w === undefined) return "—";
  if (Math.abs(w) < 1) return "0 W";
  return w > 0 ? `import ${formatPower(w)}` : `export ${formatPower(-w)}`;
}
