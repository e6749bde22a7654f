/** Report periods as the cloud reads them: a local day, an ISO week (from Monday), a month. */

export type PeriodKind = "day" | "week" | "month";
export const PERIOD_KINDS: readonly PeriodKind[] = ["day", "week", "month"];

/** `YYYY-MM-DD` of a calendar date (no time zone: the cloud applies the site's). */
export function isoDate(d: Date): string {
  const y = d.getUTCFullYear();
  const m = String(d.getUTCMonth() + 1).padStart(2, "0");
  const day = String(d.getUTCDate()).padStart(2, "0");
  return `${y}-${m}-${day}`;
}

export function parseIsoDate(text: string): Date | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return null;
  const d = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return isoDate(d) === text ? d : null; // refuses 2026-02-30
}

/** The first day of the period of `kind` that holds `day`. */
export function periodStart(kind: PeriodKind, day: string): string {
  const d = parseIsoDate(day);
  if (!d) throw new Error(`not a date: ${day}`);
  if (kind === "month") return `${day.slice(0, 7)}-01`;
  if (kind === "week") {
    const back = (d.getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
    d.setUTCDate(d.getUTCDate() - back);
  }
  return isoDate(d);
}

/** The first day of the period `steps` periods after the one starting `first`. */
export function shiftPeriod(kind: PeriodKind, first: string, steps: number): string {
  const d = parseIsoDate(periodStart(kind, first));
  if (!d) throw new Error(`not a date: ${first}`);
  if (kind === "day") d.setUTCDate(d.getUTCDate() + steps);
  else if (kind === "week") d.setUTCDate(d.getUTCDate() + 7 * steps);
  else d.setUTCMonth(d.getUTCMonth() + steps);
  return isoDate(d);
}

export function reportPath(edgeId: string, kind: PeriodKind, first: string, format: "json" | "csv" | "pdf"): string {
  const query = new URLSearchParams({ edge_id: edgeId, period: kind, start: first, format });
  return `/api/reports/energy?${query.toString()}`;
}

/** Recipients typed as a list: commas, semicolons or whitespace between addresses. */
export function splitRecipients(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

const ADDRESS = /^[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+$/;

/** The first address the cloud would refuse, or null when all are fine. */
export function badRecipient(addresses: string[]): string | null {
  if (addresses.length === 0) return "(none given)";
  return addresses.find((a) => !ADDRESS.test(a)) ?? null;
}

export function formatNumber(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined ? "–" : value.toFixed(digits);
}
