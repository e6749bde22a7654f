import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { readFileSync } from "node:fs";

import { SECOND_SITE } from "./fleet";

/**
 * Issue 17's pages against the running stack of global-setup.ts: alarms live,
 * the fleet overview, a device's live channels, and the energy chart and mix
 * of a simulated day checked against the CSV `ems simulate` wrote for it.
 */

const base = () => {
  const url = process.env.EMS_E2E_BASE;
  if (!url) throw new Error("EMS_E2E_BASE is not set: run through playwright.config.ts");
  return url;
};
const RULE = "e2e-discharge";
const ALARM = `site-1.rule.${RULE}`;

async function logIn(page: Page, user: "admin" | "operator" | "viewer") {
  await page.goto(`${base()}/`);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(process.env.EMS_E2E_PASSWORD ?? "");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("user")).toContainText(user);
}

async function adminToken(request: APIRequestContext): Promise<string> {
  const r = await request.post(`${base()}/auth/token`, {
    data: { username: "admin", password: process.env.EMS_E2E_PASSWORD },
  });
  expect(r.status()).toBe(200);
  return ((await r.json()) as { access: string }).access;
}

async function setBattery(page: Page, way: "Charge" | "Discharge", watts: number) {
  const panel = page.getByTestId("command-panel");
  await panel.getByRole("radio", { name: new RegExp(`^${way}`) }).check();
  await panel.getByLabel("Power [W]", { exact: true }).fill(String(watts));
  await panel.getByRole("button", { name: new RegExp(`^Send: ${way.toLowerCase()} at`) }).click();
  await expect(page.getByTestId("latest-command")).toHaveAttribute("data-status", "executed");
}

test("an over-threshold discharge raises an alarm live; it is acknowledged and clears", async ({ browser, request }) => {
  // An admin's rule on the battery: discharging more than 300 W (deadband 100 W).
  const token = await adminToken(request);
  const created = await request.post(`${base()}/api/alarm-rules`, {
    headers: { Authorization: `Bearer ${token}` },
    data: { rule_id: RULE, edge_id: "site-1", channel: "battery_1/ActivePower", operator: ">", threshold: 300, deadband: 100, severity: "high" },
  });
  expect(created.status(), await created.text()).toBe(201);

  const site = await browser.newPage();
  await logIn(site, "operator");
  await site.goto(`${base()}/site/?id=site-1`);
  await expect(site.getByTestId("connection")).toHaveAttribute("data-phase", "open");
  await setBattery(site, "Charge", 200); // below the threshold: the alarm starts normal

  const alarms = await browser.newPage();
  await logIn(alarms, "operator");
  await alarms.goto(`${base()}/alarms/?site=site-1`);
  await expect(alarms.getByTestId("connection")).toHaveAttribute("data-phase", "open");
  await expect(alarms.getByText("Loading alarms…")).toHaveCount(0);
  // From here on the list is never fetched again: every change below must come as an alarm frame.
  let refetched = 0;
  await alarms.route("**/api/alarms", (route) => {
    refetched += 1;
    return route.abort();
  });

  await setBattery(site, "Discharge", 800);
  const row = alarms.locator(`[data-alarm="${ALARM}"]`);
  await expect(row).toHaveAttribute("data-state", "active_unacked");
  await expect(row).toContainText("high");
  await expect(row).toContainText(/value \d{3}/);
  await expect(alarms.getByTestId("alarm-count")).not.toHaveAttribute("data-count", "0");
  await expect(alarms.getByTestId("alarm-count")).not.toHaveAttribute("data-count", "");

  // Filters: a severity the alarm does not have hides it; back to all shows it.
  await alarms.getByLabel("Severity").selectOption("low");
  await expect(row).toHaveCount(0);
  await alarms.getByLabel("Severity").selectOption("high");
  await expect(row).toHaveCount(1);

  await row.getByRole("button", { name: `Acknowledge ${RULE} on site-1` }).click();
  await expect(row).toHaveAttribute("data-state", "active_acked");

  await setBattery(site, "Charge", 200);
  await expect(row).toHaveAttribute("data-state", "cleared");
  expect(refetched).toBeGreaterThan(0); // the page did poll; its answers never arrived
  await alarms.unroute("**/api/alarms");

  // A viewer sees the alarm and no buttons.
  const viewer = await browser.newPage();
  await logIn(viewer, "viewer");
  await viewer.goto(`${base()}/alarms/?site=site-1`);
  await expect(viewer.locator(`[data-alarm="${ALARM}"]`)).toHaveAttribute("data-state", "cleared");
  await expect(viewer.getByTestId("alarms").getByRole("button")).toHaveCount(0);
  await expect(viewer.getByText("Shelve…")).toHaveCount(0);
  // Rules are read-only for a viewer: listed, no way to change them.
  await expect(viewer.getByTestId("alarm-rules").locator(`tr[data-rule="${RULE}"]`)).toHaveCount(1);
  await expect(viewer.getByRole("button", { name: "New rule" })).toHaveCount(0);
  await expect(viewer.getByTestId("alarm-rules").getByRole("button")).toHaveCount(0);

  await request.delete(`${base()}/api/alarm-rules/${RULE}`, { headers: { Authorization: `Bearer ${token}` } });
  for (const p of [site, alarms, viewer]) await p.close();
});

test("an admin creates, edits and deletes an alarm rule on the alarms page", async ({ page }) => {
  await logIn(page, "admin");
  await page.goto(`${base()}/alarms/`);
  await expect(page.getByText("Loading rules…")).toHaveCount(0);
  await page.getByRole("button", { name: "New rule" }).click();
  const form = page.getByRole("form", { name: "New alarm rule" });
  await form.getByLabel("Site").selectOption("site-1");
  // The channel is picked from the edge's live channels.
  await expect(form.getByLabel("Channel").locator('option[value="battery_1/ActivePower"]')).toHaveCount(1);
  await form.getByLabel("Channel").selectOption("battery_1/ActivePower");
  await form.getByLabel("Threshold").fill("lots");
  await form.getByRole("button", { name: "Create rule" }).click();
  await expect(form.getByText("Threshold must be a number.")).toBeVisible();
  await form.getByLabel("Threshold").fill("1000000"); // never reached: no alarm for the other tests
  await form.getByRole("button", { name: "Create rule" }).click();

  const created = page.getByTestId("alarm-rules").locator("tr", { hasText: "battery_1/ActivePower > 1000000" });
  await expect(created).toHaveCount(1);
  const ruleId = await created.getAttribute("data-rule");
  expect(ruleId).toBeTruthy();
  const row = page.locator(`tr[data-rule="${ruleId}"]`);
  await row.getByRole("button", { name: `Edit ${ruleId}` }).click();
  const edit = page.getByRole("form", { name: `Edit alarm rule ${ruleId}` });
  await edit.getByLabel("Threshold").fill("2000000");
  await edit.getByRole("button", { name: `Save ${ruleId}` }).click();
  await expect(row).toContainText("battery_1/ActivePower > 2000000");

  page.once("dialog", (dialog) => void dialog.accept());
  await row.getByRole("button", { name: `Delete ${ruleId}` }).click();
  await expect(row).toHaveCount(0);
});

test("the overview shows both sites from one summary, filtered and sorted", async ({ page }) => {
  await logIn(page, "operator");
  const summaries: string[] = [];
  page.on("request", (r) => {
    if (r.url().includes("/api/")) summaries.push(new URL(r.url()).pathname);
  });
  await page.goto(`${base()}/overview/`);
  const cards = page.getByTestId("overview").getByRole("listitem");
  const one = cards.filter({ hasText: "site-1" });
  const two = cards.filter({ hasText: SECOND_SITE });
  await expect(one).toHaveAttribute("data-state", "online");
  await expect(two).toHaveAttribute("data-state", "online");
  await expect(one.getByTestId("card-pv")).toHaveText(/^[\d.]+ k?W$/);
  await expect(two.getByTestId("card-soc")).toHaveText(/^\d+ %$/);
  await expect(one.getByTestId("card-grid")).toHaveText(/^(import|export) [\d.]+ k?W$|^0 W$/);
  // One request for the fleet, not one telemetry stream per site.
  expect(summaries.filter((p) => p.startsWith("/api/edges/") && p.endsWith("/telemetry"))).toEqual([]);
  expect(summaries).toContain("/api/sites/summary");

  await page.getByLabel("Site", { exact: true }).fill("2");
  await expect(cards).toHaveCount(1);
  await expect(cards.first()).toContainText(SECOND_SITE);
  await page.getByLabel("Site", { exact: true }).fill("");
  await page.getByLabel("Sort by").selectOption("name");
  await expect(cards.first()).toContainText("site-1");
  await expect(page.getByTestId("overview-count")).toHaveText("2 of 2 sites");
});

test("the device page shows every live channel with its unit, age and last hour", async ({ page }) => {
  await logIn(page, "operator");
  await page.goto(`${base()}/site/?id=site-1`);
  await page.getByTestId("site-links").getByRole("link", { name: "Device battery_1" }).click();
  await expect(page).toHaveURL(/\/device\/\?site=site-1&id=battery_1$/);
  const table = page.getByTestId("device-channels");
  await expect(table.getByTestId("channel-Soc")).toHaveText(/^[\d.]+ %$/);
  await expect(table.getByTestId("channel-ActivePower")).toHaveText(/^-?[\d,.]+ W$/);
  await expect(table.locator('tr[data-channel="Soc"] td').nth(1)).toHaveText(/^\d s$/);
  await expect(table.getByRole("img", { name: "ActivePower, last hour", exact: true })).toBeVisible();
  expect(await table.locator("tbody tr").count()).toBeGreaterThan(5);
});

/** The simulated day's energies, straight from the CSV: each row's power for its 60 s cycle. */
interface DayKwh {
  consumed: number;
  generated: number;
  charged: number;
  discharged: number;
  imported: number;
  exported: number;
}

function dayFromCsv(): DayKwh {
  const [head, ...lines] = readFileSync(process.env.EMS_E2E_DAY_CSV ?? "", "utf-8").trim().split("\n");
  const columns = (head ?? "").split(",");
  const at = (name: string) => columns.indexOf(name);
  const kwh: DayKwh = { consumed: 0, generated: 0, charged: 0, discharged: 0, imported: 0, exported: 0 };
  const perRow = 60 / 3600 / 1000;
  for (const line of lines) {
    const cells = line.split(",");
    const value = (name: string) => Number(cells[at(name)]);
    const grid = value("_sum/GridActivePower");
    const ess = value("_sum/EssActivePower");
    kwh.consumed += Math.max(value("_sum/ConsumptionActivePower"), 0) * perRow;
    kwh.generated += Math.max(value("_sum/ProductionActivePower"), 0) * perRow;
    kwh.charged += Math.max(-ess, 0) * perRow;
    kwh.discharged += Math.max(ess, 0) * perRow;
    kwh.imported += Math.max(grid, 0) * perRow;
    kwh.exported += Math.max(-grid, 0) * perRow;
  }
  return kwh;
}

const number = (text: string | null) => Number((text ?? "").replace(/[^\d.]/g, ""));

test("the energy chart and mix show the simulated day's totals", async ({ page }) => {
  const expected = dayFromCsv();
  expect(expected.generated).toBeGreaterThan(1); // a June day with sun
  await logIn(page, "operator");
  await page.goto(`${base()}/energy/?id=site-1`);
  // The day is 2026-06-21 in Berlin: 2026-06-20T22:00Z to 2026-06-21T22:00Z.
  await page.getByLabel("From (UTC day)").fill("2026-06-20");
  await page.getByLabel("To (UTC day, included)").fill("2026-06-21");
  await page.getByLabel("Per", { exact: true }).selectOption("hour");
  const energy = page.getByTestId("energy");
  await expect(energy).toHaveAttribute("data-buckets", "24");
  await expect(page.getByTestId("energy-chart")).toBeVisible();
  for (const [key, kwh] of Object.entries(expected)) {
    const shown = page.getByTestId(`total-${key}`);
    await expect(shown).toHaveText(/ kWh$/);
    expect(Math.abs(number(await shown.textContent()) - kwh), key).toBeLessThanOrEqual(0.006);
  }

  const grid = expected.imported;
  const battery = expected.discharged;
  const solar = Math.max(expected.consumed - grid - battery, 0);
  const whole = solar + battery + grid;
  for (const [source, kwh] of [["solar", solar], ["battery", battery], ["grid", grid]] as const) {
    const text = await page.getByTestId(`mix-${source}`).textContent();
    const pct = Number((text ?? "").split(" %")[0]);
    expect(Math.abs(pct - (100 * kwh) / whole), source).toBeLessThanOrEqual(0.051);
  }

  // Per day: the same totals in the UTC days the local day spans.
  await page.getByLabel("Per", { exact: true }).selectOption("day");
  await expect(energy).toHaveAttribute("data-buckets", "2");
  expect(Math.abs(number(await page.getByTestId("total-consumed").textContent()) - expected.consumed)).toBeLessThanOrEqual(0.006);
});
