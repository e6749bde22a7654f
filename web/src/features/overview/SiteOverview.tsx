"use client";

import Link from "next/link";
import { useEffect, useMemo, useState } from "react";
import { env } from "@/config/env";
import { useSession } from "@/features/auth/SessionProvider";
import { EdgeStateBadge } from "@/features/sites/EdgeStateBadge";
import { getJson } from "@/lib/api";
import {
  ALL_SITES,
  filterSites,
  formatPower,
  gridWords,
  pageOf,
  sitesSummarySchema,
  sortSites,
  stateOf,
  type SiteQuery,
  type SiteSummary,
  type SortKey,
} from "./summary";

const POLL_MS = 5_000;
const SORTS: [SortKey, string][] = [
  ["name", "Name"],
  ["state", "Needs attention"],
  ["alarms", "Active alarms"],
  ["pv", "PV now"],
  ["soc", "Battery SOC"],
];

/** A card per site from one fleet summary, polled; filtered, sorted and paged here. */
export function SiteOverview() {
  const { token } = useSession();
  const [sites, setSites] = useState<SiteSummary[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [query, setQuery] = useState<SiteQuery>(ALL_SITES);
  const [page, setPage] = useState(0);

  useEffect(() => {
    let stopped = false;
    const load = async () => {
      const access = token();
      if (!access) return;
      try {
        const body = await getJson(env.NEXT_PUBLIC_EMS_API_BASE, "/api/sites/summary", access, sitesSummarySchema);
        if (!stopped) {
          setSites(body.sites);
          setProblem(null);
        }
      } catch (err) {
        if (!stopped) setProblem(err instanceof Error ? err.message : "overview unavailable");
      }
    };
    void load();
    const timer = setInterval(() => void load(), POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [token]);

  const shown = useMemo(() => sortSites(filterSites(sites ?? [], query), query.sort), [sites, query]);
  const paged = pageOf(shown, page);
  const change = (next: Partial<SiteQuery>) => {
    setQuery({ ...query, ...next });
    setPage(0);
  };

  if (problem && !sites) return <p className="badge badge-bad" role="alert">Overview unavailable: {problem}</p>;
  if (!sites) return <p className="muted">Loading the overview…</p>;
  return (
    <>
      <form className="field-row panel" aria-label="Filter and sort sites" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="site-search">Site</label>
          <input id="site-search" type="search" value={query.text} onChange={(e) => change({ text: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="site-state">Connection</label>
          <select id="site-state" value={query.state} onChange={(e) => change({ state: e.target.value as SiteQuery["state"] })}>
            <option value="all">All</option>
            <option value="online">Online</option>
            <option value="stale">Stale</option>
            <option value="offline">Offline</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="site-sort">Sort by</label>
          <select id="site-sort" value={query.sort} onChange={(e) => change({ sort: e.target.value as SortKey })}>
            {SORTS.map(([key, label]) => (
              <option key={key} value={key}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <label className="check">
          <input type="checkbox" checked={query.alarmsOnly} onChange={(e) => change({ alarmsOnly: e.target.checked })} />
          With active alarms only
        </label>
      </form>
      <p className="muted" data-testid="overview-count">
        {shown.length} of {sites.length} sites
      </p>
      <ul className="sites" data-testid="overview">
        {paged.items.map((site) => (
          <SiteCard key={site.edge_id} site={site} />
        ))}
      </ul>
      {paged.pages > 1 && (
        <nav className="field-row" aria-label="Pages of sites">
          <button type="button" disabled={paged.page === 0} onClick={() => setPage(paged.page - 1)}>
            Previous
          </button>
          <span>
            Page {paged.page + 1} of {paged.pages}
          </span>
          <button type="button" disabled={paged.page >= paged.pages - 1} onClick={() => setPage(paged.page + 1)}>
            Next
          </button>
        </nav>
      )}
    </>
  );
}

function SiteCard({ site }: { site: SiteSummary }) {
  const v = site.values;
  const id = encodeURIComponent(site.edge_id);
  return (
    <li className="panel site-card" data-site={site.edge_id} data-state={stateOf(site)}>
      <h2>
        <Link href={`/site/?id=${id}`}>{site.edge_id}</Link>
      </h2>
      <p>
        <EdgeStateBadge state={stateOf(site)} />
      </p>
      <dl className="limits">
        <div>
          <dt>PV now</dt>
          <dd data-testid="card-pv">{formatPower(v.pv_w?.value)}</dd>
        </div>
        <div>
          <dt>Battery SOC</dt>
          <dd data-testid="card-soc">{v.soc_pct ? `${Math.round(v.soc_pct.value)} %` : "—"}</dd>
        </div>
        <div>
          <dt>Grid</dt>
          <dd data-testid="card-grid">{gridWords(v.grid_w?.value)}</dd>
        </div>
      </dl>
      {site.active_alarms.length > 0 ? (
        <p>
          <Link href={`/alarms/?site=${id}`} className="badge badge-bad" data-testid="card-alarms">
            {site.active_alarms.length} active alarm{site.active_alarms.length === 1 ? "" : "s"}
          </Link>
        </p>
      ) : (
        <p className="muted" data-testid="card-alarms">
          No active alarm
        </p>
      )}
      <p className="small">
        <Link href={`/energy/?id=${id}`}>Energy</Link>
      </p>
    </li>
  );
}
