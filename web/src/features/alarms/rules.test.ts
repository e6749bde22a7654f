import { describe, expect, it } from "vitest";
import { draftOf, EMPTY_DRAFT, numericChannels, refusalErrors, ruleBody, ruleListSchema, validateDraft, type RuleDraft } from "./rules";

const GOOD: RuleDraft = {
  edge_id: "site-1",
  channel: "battery_1/Soc",
  operator: "<",
  threshold: "10",
  for_s: "30",
  deadband: "5",
  severity: "high",
};
const KNOWN = ["_sum/GridActivePower", "battery_1/Soc"];

describe("validateDraft", () => {
  it("accepts a complete rule on a known channel", () => {
    expect(validateDraft(GOOD, KNOWN)).toEqual({});
  });

  it("names every missing or bad field", () => {
    const errors = validateDraft({ ...EMPTY_DRAFT, threshold: "abc", for_s: "-1", deadband: "" }, KNOWN);
    expect(Object.keys(errors).sort()).toEqual(["channel", "deadband", "edge_id", "for_s", "threshold"]);
    expect(errors.threshold).toBe("Threshold must be a number.");
    expect(errors.for_s).toMatch(/from 0 to 86400 s/);
  });

  it("refuses a channel the edge does not report, unless nothing is known yet", () => {
    const draft = { ...GOOD, channel: "battery_1/Nope" };
    expect(validateDraft(draft, KNOWN).channel).toBe("battery_1/Nope is not a channel of site-1.");
    expect(validateDraft(draft, null)).toEqual({});
  });

  it("refuses infinite and too long delays", () => {
    expect(validateDraft({ ...GOOD, threshold: "Infinity" }, KNOWN).threshold).toBeDefined();
    expect(validateDraft({ ...GOOD, for_s: "86401" }, KNOWN).for_s).toBeDefined();
  });
});

describe("ruleBody and draftOf", () => {
  it("sends numbers, and round-trips a listed rule", () => {
    const body = ruleBody(GOOD);
    expect(body).toEqual({ edge_id: "site-1", channel: "battery_1/Soc", operator: "<", threshold: 10, for_s: 30, deadband: 5, severity: "high" });
    const [listed] = ruleListSchema.parse({ rules: [{ rule_id: "low-soc", ...body }] }).rules;
    if (!listed) throw new Error("no rule parsed");
    expect(draftOf(listed)).toEqual(GOOD);
  });
});

describe("refusalErrors", () => {
  it("puts the API's unknown_channel next to the channel field", () => {
    const errors = refusalErrors(422, { reason: "unknown_channel", field: "channel", detail: "channel: 'x/Y' is not a channel of edge 'site-1'" });
    expect(errors).toEqual({ channel: "Unknown channel: channel: 'x/Y' is not a channel of edge 'site-1'" });
  });

  it("puts a refusal without a known field on the form", () => {
    expect(refusalErrors(403, { reason: "forbidden", field: null, detail: "admins only" })).toEqual({ form: "admins only" });
    expect(refusalErrors(500, null)).toEqual({ form: "Refused (500)." });
  });
});

describe("numericChannels", () => {
  it("lists the numeric channels, sorted", () => {
    const t = "2026-01-01T00:00:00Z";
    expect(numericChannels({ "b/Soc": { v: 5, t }, "a/P": { v: 1.5, t }, "b/CommunicationFailed": { v: false, t } })).toEqual(["a/P", "b/Soc"]);
    expect(numericChannels(undefined)).toEqual([]);
  });
});
