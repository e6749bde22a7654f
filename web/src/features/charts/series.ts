import type { TelemetryHistory } from "@/lib/api";
import type { Channels } from "@/lib/frames";

/**
 * Time series for the charts: x in epoch seconds, one y array per channel,
 * `null` where a channel had no value (the chart shows a gap, never a zero).
 */

export type Aligned = [number[], ...(number | null)[][]];

export const LIVE_WINDOW_S = 15 * 60;

export class LiveBuffer {
  private times: number[] = [];
  private columns: (number | null)[][];

  constructor(
    readonly channels: readonly string[],
    readonly windowS = LIVE_WINDOW_S,
  ) {
    this.columns = channels.map(() => []);
  }

  /** Adds one telemetry frame (its `ts` in epoch s); keeps only the last window. */
  push(tsS: number, values: Channels): void {
    const last = this.times.at(-1);
    if (last !== undefined && tsS <= last) return; // a repeat or out of order: keep x increasing
    this.times.push(tsS);
    this.channels.forEach((name, i) => {
      const v = values[name]?.v;
      this.columns[i]?.push(typeof v === "number" && Number.isFinite(v) ? v : null);
    });
    this.trim(tsS);
  }

  /** Seeds the buffer with history (older than anything live). */
  seed(data: Aligned): void {
    const [xs, ...ys] = data;
    const first = this.times[0] ?? Number.POSITIVE_INFINITY;
    const keep = xs.findIndex((x) => x >= first);
    const n = keep === -1 ? xs.length : keep;
    this.times = [...xs.slice(0, n), ...this.times];
    this.columns = this.columns.map((col, i) => [...(ys[i] ?? []).slice(0, n), ...col]);
    const last = this.times.at(-1);
    if (last !== undefined) this.trim(last);
  }

  private trim(nowS: number): void {
    const cutoff = nowS - this.windowS;
    let drop = 0;
    while (drop < this.times.length && (this.times[drop] ?? 0) < cutoff) drop += 1;
    if (drop > 0) {
      this.times = this.times.slice(drop);
      this.columns = this.columns.map((c) => c.slice(drop));
    }
  }

  get length(): number {
    return this.times.length;
  }

  data(): Aligned {
    return [this.times.slice(), ...this.columns.map((c) => c.slice())];
  }
}

/** The bucket averages of the telemetry API as aligned columns, in `channels` order. */
export function historyToAligned(history: TelemetryHistory, channels: readonly string[]): Aligned {
  const times = new Set<number>();
  for (const name of channels) for (const p of history.channels[name] ?? []) times.add(p.time_s);
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const columns = channels.map((name) => {
    const col: (number | null)[] = new Array<number | null>(xs.length).fill(null);
    for (const p of history.channels[name] ?? []) {
      const i = index.get(p.time_s);
      if (i !== undefined) col[i] = p.avg;
    }
    return col;
  });
  return [xs, ...columns];
}
