import { describe, expect, it } from "vitest";
import { badRecipient, parseIsoDate, periodStart, reportPath, shiftPeriod, splitRecipients } from "./period";

describe("periods", () => {
  it("starts a week on Monday and a month on the 1st", () => {
    expect(periodStart("week", "2026-03-20")).toBe("2026-03-16"); // a Friday
    expect(periodStart("week", "2026-03-16")).toBe("2026-03-16");
    expect(periodStart("week", "2026-03-22")).toBe("2026-03-16"); // Sunday belongs to it
    expect(periodStart("month", "2026-03-29")).toBe("2026-03-01");
    expect(periodStart("day", "2026-03-29")).toBe("2026-03-29");
  });

  it("steps whole periods, across year ends and short months", () => {
    expect(shiftPeriod("month", "2026-12-01", 1)).toBe("2027-01-01");
    expect(shiftPeriod("month", "2026-03-01", -1)).toBe("2026-02-01");
    expect(shiftPeriod("week", "2026-03-18", 1)).toBe("2026-03-23");
    expect(shiftPeriod("day", "2026-02-28", 1)).toBe("2026-03-01");
  });

  it("refuses dates that do not exist", () => {
    expect(parseIsoDate("2026-02-30")).toBeNull();
    expect(parseIsoDate("26-02-01")).toBeNull();
    expect(() => periodStart("day", "yesterday")).toThrow(/not a date/);
  });

  it("builds the report URL with every parameter encoded", () => {
    expect(reportPath("site-1", "month", "2026-03-01", "pdf")).toBe(
      "/api/reports/energy?edge_id=site-1&period=month&start=2026-03-01&format=pdf",
    );
  });
});

describe("recipients", () => {
  it("splits on commas, semicolons and spaces", () => {
    expect(splitRecipients(" a@x.test, b@y.test;c@z.test\n")).toEqual(["a@x.test", "b@y.test", "c@z.test"]);
  });

  it("names the first address the cloud would refuse", () => {
    expect(badRecipient(["a@x.test"])).toBeNull();
    expect(badRecipient(["a@x.test", "nobody"])).toBe("nobody");
    expect(badRecipient(["<a@x.test>"])).toBe("<a@x.test>");
    expect(badRecipient([])).toBe("(none given)");
  });
});
