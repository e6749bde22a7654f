import { z } from "zod";
import { ApiError, apiUrl } from "@/lib/api";

/** The reports API: `GET /api/reports/energy` (JSON, CSV, PDF) and `/api/reports/subscriptions`. */

const num = z.number();
const maybe = num.nullable();

export const pqChannelSchema = z.object({
  channel: z.string(),
  minutes_measured: num,
  minutes_outside: num,
  worst_low: maybe,
  worst_high: maybe,
});

export const reportSchema = z.object({
  edge_id: z.string(),
  period: z.object({
    kind: z.string(),
    first_day: z.string(),
    last_day: z.string(),
    timezone: z.string(),
    hours: num,
    coverage_pct: num,
  }),
  units: z.object({ money: z.string().nullable() }),
  energy: z.object({
    consumption_kwh: num,
    production_kwh: num,
    battery_charge_kwh: num,
    battery_discharge_kwh: num,
    grid_import_kwh: num,
    grid_export_kwh: num,
    self_consumption_pct: maybe,
    self_sufficiency_pct: maybe,
  }),
  cost: z.object({ currency: z.string(), energy: num, demand_charge: num, total: num }).nullable(),
  peaks: z.array(
    z.object({
      month: z.string(),
      intervals: z.array(z.object({ start_local: z.string(), import_w: num, demand_charge: num })),
    }),
  ),
  savings: z.object({
    no_battery: z.object({ savings: num.optional() }).passthrough(),
  }),
  carbon: z.object({ total_kg: num }).nullable(),
  power_quality: z
    .object({
      voltage: z.object({ channels: z.array(pqChannelSchema) }),
      frequency: z.object({ channels: z.array(pqChannelSchema) }),
    })
    .nullable()
    .default(null),
  battery_health: z
    .object({
      throughput_kwh: num,
      equivalent_full_cycles: num,
      soh_pct: maybe,
      soh_source: z.string(),
      remaining_useful_life: z.object({ years: maybe, eol_soh_pct: num }),
    })
    .nullable()
    .default(null),
  chart: z
    .array(
      z.object({
        label: z.string(),
        consumption_kwh: num,
        production_kwh: num,
        grid_import_kwh: num,
        grid_export_kwh: num,
      }),
    )
    .default([]),
  anomalies: z
    .object({
      anomalies: z.array(
        z.object({ start_local: z.string(), channel: z.string(), mean_w: num, expected_w: num }),
      ),
    })
    .nullable()
    .default(null),
});
export type Report = z.infer<typeof reportSchema>;

export const subscriptionSchema = z.object({
  id: z.string(),
  edge_id: z.string(),
  period: z.enum(["day", "week", "month"]),
  recipients: z.array(z.string()),
  created_by: z.string(),
  due: z.string(),
  status: z.enum(["scheduled", "retrying", "failed"]),
  attempts: z.number(),
  last_error: z.string().nullable(),
  last_sent_at: z.string().nullable(),
});
export type Subscription = z.infer<typeof subscriptionSchema>;
export const subscriptionListSchema = z.array(subscriptionSchema);

export const SUBSCRIPTIONS_PATH = "/api/reports/subscriptions";

async function problem(response: Response): Promise<ApiError> {
  let text = `${response.status} ${response.statusText}`.trim();
  try {
    const body = (await response.json()) as { detail?: unknown };
    if (typeof body.detail === "string") text = body.detail;
    else if (Array.isArray(body.detail) && body.detail.length > 0) {
      const first = body.detail[0] as { loc?: unknown[]; msg?: string };
      text = `${(first.loc ?? []).slice(1).join(".")}: ${first.msg ?? "invalid"}`;
    }
  } catch {
    // not JSON: the status says enough
  }
  return new ApiError(response.status, text);
}

/** An authorised call; throws `ApiError` with the cloud's reason (the field named on 422). */
export async function call(
  base: string,
  path: string,
  token: string,
  init: { method?: string; body?: unknown } = {},
): Promise<Response> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(apiUrl(base, path), {
    method: init.method ?? "GET",
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (!response.ok) throw await problem(response);
  return response;
}
