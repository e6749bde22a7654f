import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [react()],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  test: {
    environment: "jsdom",
    // e2e/*.test.ts: the end-to-end run's own helpers (Playwright runs only e2e/*.spec.ts).
    include: ["src/**/*.test.{ts,tsx}", "e2e/**/*.test.ts"],
    restoreMocks: true,
  },
});
