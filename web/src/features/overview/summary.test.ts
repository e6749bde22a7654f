import { describe, expect, it } from "vitest";
import { ALL_SITES, filterSites, formatPower, gridWords, pageOf, sortSites, type SiteSummary } from "./summary";

function site(id: string, over: Partial<SiteSummary> = {}, values: Partial<SiteSummary["values"]> = {}): SiteSummary {
  return {
    edge_id: id,
    online: true,
    stale: false,
    last_seen: null,
    values: { pv_w: null, grid_w: null, battery_w: null, soc_pct: null, load_w: null, ...values },
    active_alarms: [],
    ...over,
  };
}
const alarm = { alarm_id: "x", rule: "hot", severity: "high" as const, state: "active_unacked" };

describe("overview", () => {
  const sites = [
    site("site-b", {}, { pv_w: { value: 3000, time_s: 1 }, soc_pct: { value: 40, time_s: 1 } }),
    site("site-a", { active_alarms: [alarm, alarm] }, { pv_w: { value: 100, time_s: 1 } }),
    site("depot-1", { online: false }, {}),
    site("site-c", { stale: true, active_alarms: [alarm] }, { soc_pct: { value: 90, time_s: 1 } }),
  ];
  const ids = (list: SiteSummary[]) => list.map((s) => s.edge_id);

  it("filters by text, state and alarms", () => {
    expect(ids(filterSites(sites, { ...ALL_SITES, text: "SITE" }))).toEqual(["site-b", "site-a", "site-c"]);
    expect(ids(filterSites(sites, { ...ALL_SITES, state: "offline" }))).toEqual(["depot-1"]);
    expect(ids(filterSites(sites, { ...ALL_SITES, state: "stale" }))).toEqual(["site-c"]);
    expect(ids(filterSites(sites, { ...ALL_SITES, alarmsOnly: true }))).toEqual(["site-a", "site-c"]);
  });

  it("sorts by name, alarms, PV, SOC (missing last) and state", () => {
    expect(ids(sortSites(sites, "name"))).toEqual(["depot-1", "site-a", "site-b", "site-c"]);
    expect(ids(sortSites(sites, "alarms"))).toEqual(["site-a", "site-c", "depot-1", "site-b"]);
    expect(ids(sortSites(sites, "pv"))).toEqual(["site-b", "site-a", "depot-1", "site-c"]);
    expect(ids(sortSites(sites, "soc"))).toEqual(["site-c", "site-b", "depot-1", "site-a"]);
    expect(ids(sortSites(sites, "state"))).toEqual(["depot-1", "site-c", "site-a", "site-b"]);
  });

  it("cuts 500 sites into pages and keeps the page in range", () => {
    const many = Array.from({ length: 500 }, (_, i) => i);
    expect(pageOf(many, 0, 24)).toMatchObject({ page: 0, pages: 21 });
    expect(pageOf(many, 20, 24).items).toEqual(many.slice(480));
    expect(pageOf(many, 99, 24).page).toBe(20);
    expect(pageOf([], 3, 24)).toEqual({ items: [], page: 0, pages: 1 });
  });

  it("formats power and grid direction, missing as a dash", () => {
    expect(formatPower(null)).toBe("—");
    expect(formatPower(850.4)).toBe("850 W");
    expect(formatPower(3240)).toBe("3.2 kW");
    expect(gridWords(1500)).toBe("import 1.5 kW");
    expect(gridWords(-200)).toBe("export 200 W");
    expect(gridWords(0.2)).toBe("0 W");
    expect(gridWords(undefined)).toBe("—");
  });
});
