import path from "node:path";

/**
 * Where the end-to-end run writes the README's screenshots of the site page.
 *
 * A local run must not rewrite the committed pictures (every run would leave a
 * changed binary file in the work tree), so by default they go to an ignored
 * scratch folder beside Playwright's own output. `make screenshots` sets
 * EMS_E2E_UPDATE_SCREENSHOTS=1 to regenerate the committed ones on purpose.
 */

export const COMMITTED_SCREENSHOTS = path.resolve(__dirname, "../../docs/screenshots");
export const SCRATCH_SCREENSHOTS = path.resolve(__dirname, "../test-results/screenshots");

const VARIABLE = "EMS_E2E_UPDATE_SCREENSHOTS";

export function screenshotDir(env: Record<string, string | undefined> = process.env): string {
  const value = env[VARIABLE] ?? "";
  if (value === "1") return COMMITTED_SCREENSHOTS;
  if (value === "" || value === "0") return SCRATCH_SCREENSHOTS;
  throw new Error(`${VARIABLE} must be 1 (rewrite docs/screenshots) or 0/unset, not ${JSON.stringify(value)}`);
}
