import { describe, expect, it } from "vitest";
import { commandRecordSchema, edgeSchema } from "@/lib/api";
import { describeCommand, REASON_WORDS } from "./wording";

describe("set_controller in words", () => {
  it("lists the changed settings", () => {
    expect(describeCommand("set_controller", { target_grid_w: -300, enabled: true })).toBe(
      "Controller settings: target grid w = -300, enabled = true",
    );
  });

  it.each(["unknown_controller", "unknown_param", "invalid_params"])("says %s as a sentence", (reason) => {
    expect(REASON_WORDS[reason]).toBeDefined();
  });
});

describe("the cloud's answers about controllers", () => {
  it("reads a command record whose value is an object", () => {
    const record = commandRecordSchema.parse({
      command_id: "22222222-2222-4222-8222-222222222222",
      edge_id: "site-1",
      user: "olga",
      device: "self_consumption",
      action: "set_controller",
      value: { target_grid_w: -300 },
      issued_at: "2026-01-01T00:00:00Z",
      created_at: "2026-01-01T00:00:00Z",
      status: "executed",
      reason: null,
      terminal: true,
      updated_at: "2026-01-01T00:00:01Z",
    });
    expect(record.value).toEqual({ target_grid_w: -300 });
  });

  it("reads an edge from an older cloud without controllers", () => {
    const edge = edgeSchema.parse({ edge_id: "site-1", online: true, last_seen: null, devices: [] });
    expect(edge.controllers).toEqual([]);
  });
});
