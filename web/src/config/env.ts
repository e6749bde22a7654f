import { z } from "zod";

/**
 * The dashboard's settings, validated once when the app loads.
 *
 * Next.js inlines `NEXT_PUBLIC_*` variables at build time, so each is named
 * literally below. A bad value fails the build's prerender and the page load
 * with a message naming the variable.
 */
const schema = z.object({
  /** Where the cloud is; empty: the origin that served the dashboard (`ems demo`, `ems cloud`). */
  NEXT_PUBLIC_EMS_API_BASE: z
    .union([z.literal(""), z.url({ protocol: /^https?$/ })])
    .default("")
    .transform((base) => base.replace(/\/+$/, "")),
  /** A telemetry value older than this is shown as stale [s]. */
  NEXT_PUBLIC_EMS_STALE_AFTER_S: z.coerce.number().positive().max(3600).default(5),
});

export type Env = z.output<typeof schema>;

export function parseEnv(raw: Record<string, string | undefined>): Env {
  const present = Object.fromEntries(
    Object.entries(raw).filter(([, value]) => value !== undefined && value !== ""),
  );
  const result = schema.safeParse(present);
  if (!result.success) {
    const problems = result.error.issues
      .map((issue) => `${issue.path.join(".")}: ${issue.message}`)
      .join("; ");
    throw new Error(`dashboard settings are invalid: ${problems}`);
  }
  return result.data;
}

export const env: Env = parseEnv({
  NEXT_PUBLIC_EMS_API_BASE: process.env.NEXT_PUBLIC_EMS_API_BASE,
  NEXT_PUBLIC_EMS_STALE_AFTER_S: process.env.NEXT_PUBLIC_EMS_STALE_AFTER_S,
});
