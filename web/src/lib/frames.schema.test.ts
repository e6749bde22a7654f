import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { ACK_STATUSES, TERMINAL_STATUSES, cloudFrame, commandFrame } from "./frames";
// Written by `ems protocol schema`; tests/unit/protocol/test_schema_snapshot.py keeps it current.
import schema from "./protocol.schema.json";

type JsonProperty = { const?: string; enum?: string[]; anyOf?: JsonProperty[] };
type JsonFrame = { properties: Record<string, JsonProperty>; required?: string[] };

const defs = schema.$defs as unknown as Record<string, JsonFrame>;

function framesOf(direction: keyof typeof schema.directions): Map<string, JsonFrame> {
  const out = new Map<string, JsonFrame>();
  for (const { $ref } of schema.directions[direction].oneOf) {
    const frame = defs[$ref.replace("#/$defs/", "")];
    const type = frame?.properties.type?.const;
    if (frame && type) out.set(type, frame);
  }
  return out;
}

/** The schema under `.nullable()`, `.default()` and `.optional()`. */
function bare(field: z.ZodType): z.ZodType {
  let inner = field;
  for (;;) {
    const def = inner._zod.def as { innerType?: z.ZodType };
    if (!def.innerType) return inner;
    inner = def.innerType;
  }
}

function enumOf(property: JsonProperty): string[] | undefined {
  return property.enum ?? property.anyOf?.find((p) => p.enum)?.enum;
}

describe("frames.ts against `ems protocol schema`", () => {
  const cloudToUi = framesOf("cloud_to_ui");
  const zodFrames = new Map(
    cloudFrame.options.map((o) => [String((o.shape.type as z.ZodLiteral<string>).value), o] as const),
  );

  it("reads every frame type the cloud sends a dashboard, and no other", () => {
    expect([...zodFrames.keys()].sort()).toEqual([...cloudToUi.keys()].sort());
  });

  it.each([...cloudToUi.keys()])("knows every field of %s and requires what the cloud always sends", (type) => {
    const frame = cloudToUi.get(type)!;
    const shape = zodFrames.get(type)!.shape as Record<string, z.ZodType>;
    expect(Object.keys(shape).sort()).toEqual(Object.keys(frame.properties).sort());
    for (const name of frame.required ?? []) {
      expect(shape[name]!.safeParse(undefined).success, `${type}.${name} must be required`).toBe(false);
    }
  });

  it.each([...cloudToUi.keys()])("allows exactly the values the cloud's enums of %s allow", (type) => {
    const frame = cloudToUi.get(type)!;
    const shape = zodFrames.get(type)!.shape as Record<string, z.ZodType>;
    for (const [name, property] of Object.entries(frame.properties)) {
      const values = enumOf(property);
      if (!values) continue;
      const field = bare(shape[name]!) as unknown as { options?: string[] };
      expect(field.options, `${type}.${name}`).toEqual(values);
    }
  });

  it("has the statuses and the terminal ones of the protocol", () => {
    expect([...ACK_STATUSES]).toEqual(defs.UiAck!.properties.status!.enum);
    expect([...TERMINAL_STATUSES].sort()).toEqual([...schema.terminal_statuses].sort());
  });

  it("writes commands with the fields the cloud accepts and requires", () => {
    const frame = commandFrame(
      { edge_id: "site-1", device: "battery_1", action: "set_active_power", value: -2500, ttl_s: 60 },
      new Date(0),
      () => "00000000-0000-4000-8000-000000000000",
    );
    const accepted = framesOf("ui_to_cloud").get("command")!;
    for (const key of Object.keys(frame)) expect(Object.keys(accepted.properties)).toContain(key);
    for (const key of accepted.required ?? []) expect(Object.keys(frame)).toContain(key);
  });
});
