import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { prepareDay, startSecondSite, stop } from "./fleet";

/**
 * Starts `ems demo` (auth, cloud, the demo site and this dashboard's build)
 * on a free loopback port with a throwaway data directory, waits until the
 * demo edge has connected, and stops it after the run.
 */

export const PASSWORD = "e2e-demo-password";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function waitFor(proc: ChildProcess, output: () => string, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(
      () => reject(new Error(`ems demo did not print ${JSON.stringify(text)} within ${timeoutMs} ms:\n${output()}`)),
      timeoutMs,
    );
    const check = () => {
      if (output().includes(text)) {
        clearTimeout(deadline);
        proc.stderr?.off("data", check);
        proc.off("exit", exited);
        resolve();
      }
    };
    const exited = (code: number | null) => {
      clearTimeout(deadline);
      reject(new Error(`ems demo exited (${code}) before printing ${JSON.stringify(text)}:\n${output()}`));
    };
    proc.stderr?.on("data", check);
    proc.once("exit", exited);
    check();
  });
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  const ems = process.env.EMS_BIN ?? path.resolve(__dirname, "../../.venv/bin/ems");
  const dataDir = mkdtempSync(path.join(tmpdir(), "ems-e2e-"));
  const port = await freePort();
  // Before the cloud opens the store: a simulated day of site-1 for the energy pages.
  const python = process.env.EMS_PYTHON ?? path.resolve(__dirname, "../../.venv/bin/python");
  const dayCsv = prepareDay(ems, python, dataDir);
  let output = "";
  const proc = spawn(ems, ["demo", "--port", String(port), "--data-dir", dataDir], {
    env: { ...process.env, EMS_DEMO_PASSWORD: PASSWORD },
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  proc.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(proc, () => output, "EMS demo on", 60_000);
  await waitFor(proc, () => output, "inventory", 60_000);
  if (output.includes("dashboard not built")) {
    throw new Error("ems demo runs without the dashboard: build it first (npm run build in web/)");
  }
  process.env.EMS_E2E_BASE = `http://127.0.0.1:${port}`;
  process.env.EMS_E2E_PASSWORD = PASSWORD;
  process.env.EMS_E2E_DAY_CSV = dayCsv;
  const second = startSecondSite(ems, `http://127.0.0.1:${port}`, dataDir, PASSWORD);

  return async () => {
    await stop(second);
    if (proc.exitCode === null) {
      const exited = new Promise((resolve) => proc.once("exit", resolve));
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
}
