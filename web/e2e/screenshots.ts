import path from "node:path";

/** Where the end-to-end run writes the README's screenshots of the site page. */
export const COMMITTED_SCREENSHOTS = path.resolve(__dirname, "../../docs/screenshots");

export function screenshotDir(): string {
  return COMMITTED_SCREENSHOTS;
}
