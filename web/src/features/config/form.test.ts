import { describe, expect, it } from "vitest";
import { FieldProblem, applySections, sectionsOf, statusText } from "./form";

function nth<T>(items: readonly T[], i: number): T {
  const item = items[i];
  if (item === undefined) throw new Error(`no item ${i}`);
  return item;
}

const doc = {
  edge_id: "site-1",
  controllers: [
    { id: "self_consumption", type: "self_consumption", priority: 10, params: { target_grid_w: 0, enabled: true } },
    { id: "manual_override", type: "manual_override", priority: 100 },
  ],
  tariff: { currency: "EUR", export: { price_per_kwh: 0.08 } },
};

describe("config form", () => {
  it("offers each controller's params and the tariff, nested values as JSON", () => {
    const sections = sectionsOf(doc);
    expect(sections.map((s) => s.title)).toEqual([
      "Controller self_consumption (self_consumption)",
      "Controller manual_override (manual_override)",
      "Tariff",
    ]);
    expect(nth(sections, 0).fields.map((f) => [f.path, f.kind, f.text])).toEqual([
      ["controllers[0].params.target_grid_w", "number", "0"],
      ["controllers[0].params.enabled", "boolean", "true"],
    ]);
    expect(nth(nth(sections, 2).fields, 1)).toMatchObject({ kind: "json", text: '{"price_per_kwh":0.08}' });
  });

  it("writes edited values back into a copy, leaving the rest as it was", () => {
    const sections = sectionsOf(doc);
    nth(nth(sections, 0).fields, 0).text = "300";
    nth(nth(sections, 2).fields, 1).text = '{"price_per_kwh":0.1}';
    const out = applySections(doc, sections);
    expect(out.controllers).toEqual([
      { ...nth(doc.controllers, 0), params: { target_grid_w: 300, enabled: true } },
      { ...nth(doc.controllers, 1), params: {} },
    ]);
    expect(out.tariff).toEqual({ currency: "EUR", export: { price_per_kwh: 0.1 } });
    expect(nth(doc.controllers, 0).params?.target_grid_w).toBe(0);
  });

  it("names the field that is not a number", () => {
    const sections = sectionsOf(doc);
    nth(nth(sections, 0).fields, 0).text = "lots";
    expect(() => applySections(doc, sections)).toThrow(FieldProblem);
    expect(() => applySections(doc, sections)).toThrow("controllers[0].params.target_grid_w: not a number");
  });

  it("says why an edge rejected a version", () => {
    expect(statusText("rejected", "build_failed", "battery_9 is not a battery")).toBe(
      "rejected by the edge (build_failed): battery_9 is not a battery",
    );
  });
});
