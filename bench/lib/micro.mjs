// Runs the micro-benchmarks inside workerd (bench/micro/, through vitest bench and the Cloudflare
// Vitest plugin) and returns what bench/micro/reporter.ts wrote.

import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPOSITORY_ROOT } from "./wrangler.mjs";

const VITEST_BIN = join(REPOSITORY_ROOT, "node_modules/vitest/vitest.mjs");

/** Maximum time the micro-benchmarks may take, in milliseconds. */
const MICRO_TIMEOUT_MS = 5 * 60_000;

/** Runs vitest bench; on failure the error carries the end of its output. */
export async function runMicroBenchmarks() {
  const dir = await mkdtemp(join(tmpdir(), "bench-micro-"));
  const output = join(dir, "results.json");
  try {
    const args = [VITEST_BIN, "bench", "--run", "--config", "bench/vitest.bench.config.ts", "--reporter=./bench/micro/reporter.ts"];
    const child = spawn(process.execPath, args, {
      cwd: REPOSITORY_ROOT,
      env: { ...process.env, BENCH_MICRO_OUTPUT: output, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: MICRO_TIMEOUT_MS,
      killSignal: "SIGKILL",
    });
    let log = "";
    child.stdout.on("data", (chunk) => (log += chunk));
    child.stderr.on("data", (chunk) => (log += chunk));
    const code = await new Promise((resolve) => child.once("exit", (exitCode, signal) => resolve(exitCode ?? signal)));
    if (code !== 0) throw new Error(`vitest bench exited with ${code}. Its output:\n${log.slice(-4000)}`);

    const results = JSON.parse(await readFile(output, "utf8"));
    const failed = results.filter((result) => result.state !== "passed");
    if (failed.length > 0) throw new Error(`Micro-benchmarks failed: ${JSON.stringify(failed, null, 2)}`);
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
