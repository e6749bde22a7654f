import { describe, expect, it } from "vitest";
import { reportSchema, subscriptionListSchema } from "./api";
import day from "./fixtures/report-day.json";

describe("the report JSON", () => {
  it("parses a day report as the cloud renders it (fixture from ems.reports.build_report)", () => {
    const report = reportSchema.parse(day);
    expect(report.period.timezone).toBe("Europe/Berlin");
    expect(report.chart).toHaveLength(24);
    expect(report.peaks[0]?.intervals).toHaveLength(5);
    expect(report.power_quality?.voltage.channels[0]?.channel).toBe("grid/Voltage");
    expect(report.anomalies?.anomalies).toEqual([]);
  });

  it("refuses a report without its energy figures", () => {
    const broken: Record<string, unknown> = { ...day };
    delete broken.energy;
    expect(reportSchema.safeParse(broken).success).toBe(false);
  });
});

describe("the subscription listing", () => {
  it("reads status and the last error", () => {
    const [s] = subscriptionListSchema.parse([
      {
        id: "abc",
        edge_id: "site-1",
        period: "month",
        recipients: ["ann@example.test"],
        created_by: "ann",
        created_at: "2026-03-20T11:00:00.000Z",
        next_period_first_day: "2026-03-01",
        due: "2026-03-31T22:15:00.000Z",
        status: "retrying",
        attempts: 1,
        last_error: "smtp://127.0.0.1:2525 answered 451",
        last_sent_period_first_day: null,
        last_sent_at: null,
      },
    ]);
    expect(s?.status).toBe("retrying");
    expect(s?.last_error).toContain("451");
  });
});
