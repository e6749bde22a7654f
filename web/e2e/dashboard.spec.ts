import { expect, test, type Page } from "@playwright/test";
import path from "node:path";

import { screenshotDir } from "./screenshots";

/** An operator's and a viewer's day with the dashboard, against a running `ems demo`. */

const base = () => {
  const url = process.env.EMS_E2E_BASE;
  if (!url) throw new Error("EMS_E2E_BASE is not set: run through playwright.config.ts");
  return url;
};
const SCREENSHOTS = screenshotDir();

async function logIn(page: Page, user: "operator" | "viewer") {
  await page.goto(`${base()}/`);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(process.env.EMS_E2E_PASSWORD ?? "");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Sites" })).toBeVisible();
  await expect(page.getByTestId("user")).toContainText(user);
}

async function openSite(page: Page) {
  const card = page.getByTestId("sites").getByRole("listitem").filter({ hasText: "site-1" });
  await expect(card).toContainText("Online");
  await expect(card).toContainText(/last seen/);
  await card.getByRole("link", { name: "site-1" }).click();
  await expect(page).toHaveURL(/\/site\/\?id=site-1$/);
  await expect(page.getByTestId("connection")).toHaveAttribute("data-phase", "open");
}

async function sendSetpoint(page: Page, way: "Charge" | "Discharge", watts: number) {
  const panel = page.getByTestId("command-panel");
  await panel.getByRole("radio", { name: new RegExp(`^${way}`) }).check();
  await panel.getByLabel("Power [W]", { exact: true }).fill(String(watts));
  await panel.getByRole("button", { name: new RegExp(`^Send: ${way.toLowerCase()} at`) }).click();
}

test("a wrong password is refused in words", async ({ page }) => {
  await page.goto(`${base()}/`);
  await page.getByLabel("User name").fill("operator");
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert").filter({ hasText: /\w/ })).toHaveText("Wrong user name or password.");
});

test("the operator sees live values, commands the battery and logs out", async ({ page }) => {
  await logIn(page, "operator");
  await openSite(page);

  // Live: every branch has a value, and values move with the cycles.
  for (const branch of ["grid", "pv", "battery", "load"]) {
    await expect(page.getByTestId(`branch-${branch}`)).toHaveAttribute("data-freshness", "live");
    await expect(page.getByTestId(`value-${branch}`)).not.toHaveText("—");
  }
  await expect(page.getByTestId("value-soc")).toContainText("%");
  const updated = page.getByText(/^Updated \d\d:\d\d:\d\d$/);
  const first = await updated.textContent();
  await expect(updated).not.toHaveText(first ?? "");
  // New samples arrive every cycle; their values may repeat at the display's
  // resolution (a flat stretch of the load's day), their measurement time does not.
  const loadBranch = page.getByTestId("branch-load");
  const sampledAt = await loadBranch.getAttribute("data-sampled-at");
  expect(sampledAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  await expect(loadBranch).not.toHaveAttribute("data-sampled-at", sampledAt ?? "");

  // The current limits stand beside the setpoint field.
  await expect(page.getByTestId("limit-discharge")).toHaveText(/^[\d,]+ W$/);
  await expect(page.getByTestId("limit-charge")).toHaveText(/^[\d,]+ W$/);

  // A discharge setpoint within the limits is executed and the battery follows it.
  await sendSetpoint(page, "Discharge", 500);
  const latest = page.getByTestId("latest-command");
  await expect(latest).toContainText("Discharge at 500 W");
  await expect(latest).toHaveAttribute("data-status", "executed");
  await expect(latest).toContainText("The site carried out the command.");
  await expect(latest.getByRole("list", { name: "Status history" })).toContainText("Received");
  await expect(page.getByTestId("branch-battery")).toHaveAttribute("data-direction", "discharging");
  await expect(page.getByTestId("value-battery")).toHaveText("500 W");
  await expect(page.getByTestId("control-mode")).toHaveText("manual");
  await expect(page.getByTestId("control-in-charge")).toHaveText("manual override");

  // The history lists it with who sent it, and its trace.
  const history = page.getByTestId("command-history");
  const row = history.getByRole("listitem").filter({ hasText: "Discharge at 500 W" }).first();
  await expect(row).toContainText("operator");
  await expect(row).toContainText("Executed");
  await row.getByRole("button", { name: "Trace" }).click();
  await expect(row.getByRole("list", { name: "Status history" })).toContainText("Delivered");

  // Screenshots of the site page for the README, desktop and phone width.
  await page.getByTestId("command-panel").scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(SCREENSHOTS, "site-desktop.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(page.getByTestId("branch-battery")).toBeVisible();
  await page.screenshot({ path: path.join(SCREENSHOTS, "site-phone.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });

  // Beyond the battery's current limit: the hint warns, the cloud refuses and says why.
  const panel = page.getByTestId("command-panel");
  await panel.getByRole("radio", { name: /^Discharge/ }).check();
  await panel.getByLabel("Power [W]", { exact: true }).fill("200000");
  await expect(panel.getByText(/Beyond the current discharge limit/)).toBeVisible();
  await panel.getByRole("button", { name: /^Send: discharge at/ }).click();
  await expect(latest).toContainText("Discharge at 200.0 kW");
  await expect(latest).toHaveAttribute("data-status", "rejected");
  await expect(latest).toContainText(
    "The value is beyond what the battery can take right now (its current charge or discharge limit).",
  );
  await expect(latest).toContainText(/Details: .*outside the current limits/);
  await expect(page.getByRole("status").filter({ hasText: /rejected/ })).toBeVisible();

  // Release the battery again, from the keyboard.
  await page.getByRole("radio", { name: /^Auto/ }).focus();
  await page.keyboard.press("Space");
  await page.getByRole("button", { name: "Send mode: auto" }).focus();
  await page.keyboard.press("Enter");
  await expect(latest).toContainText("Release to automatic control");
  await expect(latest).toHaveAttribute("data-status", "executed");
  // Released: the demo's self-consumption drives the battery again (not idle since it runs).
  await expect(page.getByTestId("control-mode")).toHaveText("auto");
  await expect(page.getByTestId("control-in-charge")).toHaveText("self consumption");

  // Log out: back to the sign-in page, and the pages need a session again.
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.goto(`${base()}/site/?id=site-1`);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
});

test("the operator sees who drives the battery and changes the self-consumption target", async ({ page }) => {
  await logIn(page, "operator");
  await openSite(page);
  const control = page.getByTestId("control-panel");
  await expect(control.getByTestId("control-mode")).toHaveText("auto");
  await expect(control.getByTestId("control-in-charge")).toHaveText("self consumption");
  await expect(control.getByTestId("control-state")).not.toHaveText("every controller stands aside");

  const form = control.getByTestId("controller-self_consumption");
  const target = form.getByLabel("target grid [W]");
  await expect(target).toHaveValue("0");
  await target.fill("300");
  await form.getByRole("button", { name: "Apply self consumption settings" }).click();
  const sent = form.getByTestId("controller-self_consumption-command");
  await expect(sent).toContainText("Controller settings: target grid w = 300");
  await expect(sent).toHaveAttribute("data-status", "executed");
  await expect(sent.getByRole("list", { name: "Status history" })).toContainText("Delivered");
  await expect(target).toHaveValue("300"); // the edge now reports the new target
  await expect(control.getByTestId("control-target")).toContainText("target grid 300 W");

  // Back to 0 W, so the site is as the other tests expect it.
  await target.fill("0");
  await form.getByRole("button", { name: "Apply self consumption settings" }).click();
  await expect(sent).toContainText("target grid w = 0");
  await expect(sent).toHaveAttribute("data-status", "executed");
});

test("a viewer watches the site but gets no command form", async ({ page }) => {
  await logIn(page, "viewer");
  await openSite(page);
  await expect(page.getByTestId("branch-grid")).toHaveAttribute("data-freshness", "live");
  await expect(page.getByTestId("read-only")).toContainText("may watch but not send commands");
  await expect(page.getByTestId("command-panel")).toHaveCount(0);
  await expect(page.getByLabel("Power [W]", { exact: true })).toHaveCount(0);
  await expect(page.getByRole("button", { name: /^Send/ })).toHaveCount(0);
  await expect(page.getByTestId("command-history")).toBeVisible();
  // The controller settings are shown, not offered.
  await expect(page.getByTestId("control-in-charge")).toHaveText("self consumption");
  await expect(page.getByTestId("param-target_grid_w")).toContainText(/target grid \[W\]: -?\d/);
  await expect(page.getByRole("button", { name: /^Apply/ })).toHaveCount(0);
});

test("the cloud's own routes keep priority over the dashboard", async ({ request }) => {
  expect((await request.get(`${base()}/healthz`)).ok()).toBe(true);
  expect((await request.get(`${base()}/api/edges`)).status()).toBe(401);
  expect((await request.get(`${base()}/api/profiles/battery`)).ok()).toBe(true);
});
