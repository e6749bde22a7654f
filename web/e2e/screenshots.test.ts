// @vitest-environment node
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

import { COMMITTED_SCREENSHOTS, screenshotDir } from "./screenshots";

const REPO = path.resolve(__dirname, "../..");

function inside(dir: string, parent: string): boolean {
  const relative = path.relative(parent, dir);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

/** Whether git would leave a file at `file` out of a commit (a .gitignore rule matches it). */
function ignoredByGit(file: string): boolean {
  try {
    execFileSync("git", ["check-ignore", "--quiet", "--no-index", file], { cwd: REPO });
    return true;
  } catch {
    return false;
  }
}

describe("screenshotDir", () => {
  it("keeps a local run away from the committed screenshots", () => {
    const dir = screenshotDir({});
    expect(inside(dir, COMMITTED_SCREENSHOTS)).toBe(false);
    expect(inside(dir, path.join(REPO, "docs"))).toBe(false);
    expect(ignoredByGit(path.join(dir, "site-desktop.png"))).toBe(true);
    expect(screenshotDir({ EMS_E2E_UPDATE_SCREENSHOTS: "" })).toBe(dir);
    expect(screenshotDir({ EMS_E2E_UPDATE_SCREENSHOTS: "0" })).toBe(dir);
  });

  it("writes the README's screenshots when asked to (make screenshots)", () => {
    const dir = screenshotDir({ EMS_E2E_UPDATE_SCREENSHOTS: "1" });
    expect(dir).toBe(path.join(REPO, "docs", "screenshots"));
    expect(ignoredByGit(path.join(dir, "site-desktop.png"))).toBe(false);
    const readme = readFileSync(path.join(REPO, "README.md"), "utf8");
    const shown = [...readme.matchAll(/docs\/screenshots\/([\w-]+\.png)/g)].map((m) => m[1] ?? "");
    expect(shown).toEqual(expect.arrayContaining(["site-desktop.png", "site-phone.png"]));
    for (const name of shown) expect(existsSync(path.join(dir, name))).toBe(true);
  });

  it("names the variable when its value means nothing", () => {
    expect(() => screenshotDir({ EMS_E2E_UPDATE_SCREENSHOTS: "yes please" })).toThrow(
      /EMS_E2E_UPDATE_SCREENSHOTS/,
    );
  });
});
