import { z } from "zod";
import type { ChannelSample, Channels } from "@/lib/frames";

/** A device's channels as its page shows them: live value, unit, age and the last hour's trend. */

export const profileSchema = z.object({
  type: z.string(),
  channels: z.record(z.string(), z.object({ unit: z.string().nullable().optional(), type: z.string().optional() }).loose()),
});
export type ProfileDoc = z.infer<typeof profileSchema>;

export interface DeviceChannel {
  name: string; // without the device prefix
  address: string; // device/Channel
  sample: ChannelSample;
}

/** The live channels of `deviceId`, by name. */
export function deviceChannels(channels: Channels, deviceId: string): DeviceChannel[] {
  const prefix = `${deviceId}/`;
  return Object.entries(channels)
    .filter(([address]) => address.startsWith(prefix))
    .map(([address, sample]) => ({ name: address.slice(prefix.length), address, sample }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function formatChannelValue(v: ChannelSample["v"], unit: string | null | undefined): string {
  if (v === null) return "—";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "string") return v;
  const text = Number.isInteger(v) ? v.toLocaleString("en-US") : v.toLocaleString("en-US", { maximumFractionDigits: 2 });
  return unit ? `${text} ${unit}` : text;
}

/** An SVG path through the points (time, value) scaled into width × height; gaps (null) break it. */
export function sparklinePath(points: readonly { t: number; v: number | null }[], width: number, height: number): string {
  const known = points.filter((p): p is { t: number; v: number } => p.v !== null);
  if (known.length === 0) return "";
  const t0 = Math.min(...known.map((p) => p.t));
  const t1 = Math.max(...known.map((p) => p.t));
  const lo = Math.min(...known.map((p) => p.v));
  const hi = Math.max(...known.map((p) => p.v));
  const x = (t: number) => (t1 === t0 ? width / 2 : ((t - t0) / (t1 - t0)) * width);
  // A flat line sits in the middle rather than on an edge.
  const y = (v: number) => (hi === lo ? height / 2 : height - ((v - lo) / (hi - lo)) * height);
  let path = "";
  let pen = false;
  for (const p of points) {
    if (p.v === null) {
      pen = false;
      continue;
    }
    path += `${pen ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
    pen = true;
  }
  return path;
}
