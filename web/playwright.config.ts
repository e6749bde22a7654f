import { defineConfig, devices } from "@playwright/test";

/**
 * End-to-end tests in Debian's Chromium against a real `ems demo` that
 * e2e/global-setup.ts starts on a free loopback port. No browser is
 * downloaded: CHROMIUM names the executable (default /usr/bin/chromium).
 */
export default defineConfig({
  testDir: "./e2e",
  testMatch: "**/*.spec.ts", // e2e/*.test.ts are Vitest tests of the helpers
  globalSetup: "./e2e/global-setup.ts",
  fullyParallel: false,
  workers: 1, // one demo site: the tests' commands must not interleave
  forbidOnly: Boolean(process.env.CI),
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    ...devices["Desktop Chrome"],
    viewport: { width: 1280, height: 900 },
    launchOptions: { executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium" },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
});
