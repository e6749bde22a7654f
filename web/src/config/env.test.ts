import { describe, expect, it } from "vitest";
import { parseEnv } from "./env";

describe("parseEnv", () => {
  it("defaults to the serving origin and a 5 s stale limit", () => {
    expect(parseEnv({})).toEqual({ NEXT_PUBLIC_EMS_API_BASE: "", NEXT_PUBLIC_EMS_STALE_AFTER_S: 5 });
  });

  it("takes a base URL without its trailing slash", () => {
    expect(parseEnv({ NEXT_PUBLIC_EMS_API_BASE: "http://127.0.0.1:8000/" }).NEXT_PUBLIC_EMS_API_BASE).toBe(
      "http://127.0.0.1:8000",
    );
  });

  it("names the setting that is wrong", () => {
    expect(() => parseEnv({ NEXT_PUBLIC_EMS_STALE_AFTER_S: "-1" })).toThrow(/NEXT_PUBLIC_EMS_STALE_AFTER_S/);
    expect(() => parseEnv({ NEXT_PUBLIC_EMS_API_BASE: "ftp://x" })).toThrow(/NEXT_PUBLIC_EMS_API_BASE/);
  });
});
