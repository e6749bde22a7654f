import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * What the monitoring tests need beside `ems demo`: a simulated day of site-1
 * in the telemetry store (loaded before the cloud opens it), an admin for
 * alarm rules, and a second site (site-2, the demo site's devices under
 * another id) granted to the demo users.
 */

export const SECOND_SITE = "site-2";
export const DAY = "2026-06-21"; // local midnight in Berlin: 2026-06-20T22:00Z

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const done = spawnSync(command, args, { env, encoding: "utf-8", timeout: 120_000 });
  if (done.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${done.status}):\n${done.stderr}${done.stdout}`);
  }
  return done.stdout;
}

/** `ems simulate` a day at 60 s cycles and load it as site-1's history; returns the CSV. */
export function prepareDay(ems: string, python: string, dataDir: string): string {
  const demo = readFileSync(path.resolve(__dirname, "../../src/ems/edge/sites/demo.yaml"), "utf-8");
  const config = path.join(dataDir, "day.yaml");
  writeFileSync(config, demo.replace(/period_s: 1\.0/, "period_s: 60"));
  if (!readFileSync(config, "utf-8").includes("period_s: 60")) throw new Error("demo.yaml: no period_s to change");
  const csv = path.join(dataDir, "day.csv");
  run(ems, ["simulate", "--config", config, "--hours", "24", "--start", DAY, "--out", csv]);
  run(python, [path.resolve(__dirname, "load_day.py"), csv, dataDir, "site-1"]);
  return csv;
}

/** An admin with the demo password, site-2 granted to the demo users, and its edge running. */
export function startSecondSite(ems: string, base: string, dataDir: string, password: string): ChildProcess {
  const env = { ...process.env, EMS_AUTH_PASSWORD: password };
  run(ems, ["auth", "create-user", "admin", "--role", "admin", "--data-dir", dataDir], env);
  for (const user of ["operator", "viewer"]) run(ems, ["auth", "grant", user, SECOND_SITE, "--data-dir", dataDir]);
  const key = run(ems, ["auth", "create-edge-key", SECOND_SITE, "--data-dir", dataDir]).trim();
  const keyFile = path.join(dataDir, `${SECOND_SITE}.key`);
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  return spawn(
    ems,
    ["edge", "--cloud", base, "--edge-id", SECOND_SITE, "--api-key-file", keyFile, "--data-dir", dataDir, "--no-table"],
    { env: process.env, stdio: ["ignore", "ignore", "ignore"] },
  );
}

export async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}
