// `npm run bench` drives full OAuth flows through this project's Worker and through an anchor built
// on @cloudflare/workers-oauth-provider, both under `wrangler dev` on 127.0.0.1. It also runs
// micro-benchmarks of the hot paths inside workerd, measures the bundles and prints a verdict per
// target. docs/performance.md explains the numbers and how to read them.
//
// Environment variables, all optional:
//   BENCH_FLOWS          flows per server per concurrency level (default 200)
//   BENCH_WARMUP         flows per server before measuring (default 20)
//   BENCH_MICRO_TIME_MS  sampling time of each micro-benchmark, in ms (default 2000)
//   BENCH_TIME_LIMIT_S   seconds after which the flows stop with an error (default 600)
//   BENCH_JSON           file that receives every measurement as JSON (default: none)

import { writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { addCpu, cpuDelta, groupCpu } from "./lib/cpu.mjs";
import { anchorFlow, projectFlow } from "./lib/flows.mjs";
import { bundleBoth } from "./lib/bundle.mjs";
import { runMicroBenchmarks } from "./lib/micro.mjs";
import { bundleTable, cpuTable, flowCostTable, flowTable, microTable, requestTable, serverSideTable, summarizeRun, verdicts } from "./lib/report.mjs";
import { runWrangler, startWranglerDev } from "./lib/wrangler.mjs";

function positiveInteger(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, not "${raw}".`);
  return value;
}

const FLOWS = positiveInteger("BENCH_FLOWS", 200);
const WARMUP = positiveInteger("BENCH_WARMUP", 20);
const TIME_LIMIT_MS = positiveInteger("BENCH_TIME_LIMIT_S", 600) * 1000;
const CONCURRENCY_LEVELS = [1, 4];

/**
 * Flows that one server runs per concurrent flow before the other server takes its turn. Short
 * turns spread other load on the machine over both servers alike. At concurrency 4 a turn is 20
 * flows, so the ramp-down at the end of a turn stays a small part of it.
 */
const FLOWS_PER_TURN = 5;

/** The client's loopback redirect URI (RFC 8252 §7.3). Nothing listens there, because flows read the code from the Location header. */
const REDIRECT_URI = "http://127.0.0.1:33418/callback";

const METADATA_PATH = "/.well-known/oauth-authorization-server";

/**
 * The two servers. Each serves the bundle that `wrangler deploy --dry-run` made, which wrangler dev
 * gets in place of the configured main module. wrangler dev bundles the demo MCP server itself.
 */
const servers = {
  project: {
    label: "this server",
    flow: projectFlow,
    start: (bundle) =>
      startWranglerDev({
        name: "project",
        configPaths: ["wrangler.toml", "demo/wrangler.toml"],
        script: bundle.main,
        vars: (url) => ({ ISSUER: url }),
        schema: "schema.sql",
        readyPath: METADATA_PATH,
      }),
  },
  anchor: {
    label: "anchor",
    flow: anchorFlow,
    start: (bundle) =>
      startWranglerDev({
        name: "anchor",
        configPaths: ["bench/anchor/wrangler.toml"],
        script: bundle.main,
        vars: (url) => ({ ORIGIN: url }),
        readyPath: METADATA_PATH,
      }),
  },
};

const startedAt = performance.now();

function log(message) {
  process.stderr.write(`[bench ${((performance.now() - startedAt) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
}

/** Runs `count` flows with `concurrency` flows in flight and returns each flow's timings and the wall time. */
async function runFlows(server, url, count, concurrency) {
  const flows = [];
  let started = 0;
  let failed = false;
  const wallStarted = performance.now();
  const worker = async () => {
    while (started < count && !failed) {
      started++;
      if (performance.now() - startedAt > TIME_LIMIT_MS) {
        throw new Error(`The benchmark ran longer than BENCH_TIME_LIMIT_S (${TIME_LIMIT_MS / 1000} s); lower BENCH_FLOWS.`);
      }
      try {
        flows.push(await server.flow(url, REDIRECT_URI));
      } catch (error) {
        // The other flows in flight finish, but no new one starts.
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { flows, wallMs: performance.now() - wallStarted };
}

/**
 * Runs FLOWS flows per server at one concurrency level, the servers taking turns. It also records
 * the CPU time of each server's processes and of this client during that server's turns, and the
 * requests as wrangler dev logged them.
 */
async function measureLevel(running, concurrency) {
  const runs = {};
  for (const name of Object.keys(servers)) {
    running[name].takeRequestLog();
    runs[name] = { flows: [], wallMs: 0, cpuMs: {}, clientCpuMs: 0, serverLog: [] };
  }
  const turn = FLOWS_PER_TURN * concurrency;
  for (let round = 0; round * turn < FLOWS; round++) {
    const count = Math.min(turn, FLOWS - round * turn);
    const order = round % 2 === 0 ? ["project", "anchor"] : ["anchor", "project"];
    for (const name of order) {
      const cpuBefore = await groupCpu(running[name].pgid);
      const clientBefore = process.cpuUsage();
      const result = await runFlows(servers[name], running[name].url, count, concurrency);
      const client = process.cpuUsage(clientBefore);
      addCpu(runs[name].cpuMs, cpuDelta(cpuBefore, await groupCpu(running[name].pgid)));
      runs[name].clientCpuMs += (client.user + client.system) / 1000;
      runs[name].flows.push(...result.flows);
      runs[name].wallMs += result.wallMs;
    }
  }
  for (const name of Object.keys(servers)) runs[name].serverLog = running[name].takeRequestLog();
  return runs;
}

/** Number of requests of the baseline, which measures the cost of one request in wrangler dev without storage. */
const BASELINE_REQUESTS = 200;

/**
 * Sends BASELINE_REQUESTS metadata requests, one at a time, and returns the CPU milliseconds per
 * request of the server's processes. The metadata document is built once per isolate and touches
 * no storage, so this is the fixed cost of a request in wrangler dev, before any code or storage.
 */
async function measureBaseline(server) {
  const before = await groupCpu(server.pgid);
  for (let i = 0; i < BASELINE_REQUESTS; i++) {
    const response = await fetch(server.url + METADATA_PATH, { signal: AbortSignal.timeout(30_000) });
    await response.text();
    if (!response.ok) throw new Error(`GET ${METADATA_PATH} returned ${response.status} during the baseline.`);
  }
  const delta = cpuDelta(before, await groupCpu(server.pgid)) ?? {};
  const perRequest = {};
  for (const [command, ms] of Object.entries(delta)) perRequest[command] = ms / BASELINE_REQUESTS;
  server.takeRequestLog();
  return perRequest;
}

async function environment() {
  const { stdout } = await runWrangler(["--version"]);
  return {
    date: new Date().toISOString(),
    node: process.version,
    wrangler: stdout.trim().split("\n").pop(),
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? "unknown"}`,
    memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    loadAtStart: loadavg()[0],
  };
}

async function main() {
  const env = await environment();
  log(`bundling both Workers with wrangler deploy --dry-run`);
  const bundles = await bundleBoth();

  log("starting both servers under wrangler dev");
  const running = {};
  try {
    running.project = await servers.project.start(bundles.project.configured);
    running.anchor = await servers.anchor.start(bundles.anchor.configured);
    log(`this server: ${running.project.url}, anchor: ${running.anchor.url}`);

    for (const name of ["project", "anchor"]) {
      log(`warm-up: ${WARMUP} flows through ${servers[name].label}`);
      await runFlows(servers[name], running[name].url, WARMUP, 1);
    }

    const baseline = {};
    for (const name of ["project", "anchor"]) {
      log(`baseline: ${BASELINE_REQUESTS} metadata requests to ${servers[name].label}`);
      baseline[name] = await measureBaseline(running[name]);
    }

    const levels = [];
    for (const concurrency of CONCURRENCY_LEVELS) {
      log(`measuring ${FLOWS} flows per server at concurrency ${concurrency}`);
      const runs = await measureLevel(running, concurrency);
      levels.push({ concurrency, runs, project: summarizeRun(runs.project), anchor: summarizeRun(runs.anchor) });
    }
    await stopAll(running);

    log("micro-benchmarks and the storage count inside workerd (vitest bench)");
    const micro = await runMicroBenchmarks();

    env.loadAtEnd = loadavg()[0];
    print({ env, bundles, baseline, levels, micro });
    if (process.env.BENCH_JSON) {
      await writeFile(process.env.BENCH_JSON, JSON.stringify({ env, bundles, baseline, levels, micro }, null, 2));
      log(`wrote ${process.env.BENCH_JSON}`);
    }
  } catch (error) {
    for (const [name, server] of Object.entries(running)) {
      process.stderr.write(`\n--- end of ${servers[name].label}'s wrangler output ---\n${server.output().slice(-3000)}\n`);
    }
    throw error;
  } finally {
    await stopAll(running);
    await bundles.project.configured.remove();
    await bundles.anchor.configured.remove();
  }
}

async function stopAll(running) {
  for (const name of Object.keys(running)) {
    await running[name].stop();
    delete running[name];
  }
}

function baselineText(baseline) {
  const describe = (perRequest) =>
    Object.entries(perRequest)
      .filter(([, ms]) => ms >= 0.05)
      .map(([command, ms]) => `${command} ${ms.toFixed(1)} ms`)
      .join(", ");
  return `this server ${describe(baseline.project)}; anchor ${describe(baseline.anchor)}`;
}

function print({ env, bundles, baseline, levels, micro }) {
  const out = [];
  out.push(`# Benchmark: this server vs the workers-oauth-provider anchor`);
  out.push("");
  out.push(`${env.date}, Node ${env.node}, wrangler ${env.wrangler}, ${env.cpus}, ${env.memory}`);
  out.push(`Both Workers run under wrangler dev on 127.0.0.1 with local D1 and KV; latency is per flow step as the client sees it.`);
  out.push(`${FLOWS} flows per server per concurrency level after ${WARMUP} warm-up flows, taking turns of ${FLOWS_PER_TURN} flows per concurrent flow.`);
  out.push(
    `1-minute load average before the run: ${env.loadAtStart.toFixed(2)}` +
      (env.loadAtStart > cpus().length / 2 ? " (other work was using the CPUs: expect noisy percentiles)" : "") +
      `; after it: ${env.loadAtEnd.toFixed(2)}, which includes this run's own load.`,
  );
  for (const level of levels) {
    out.push("", `## Full flows, concurrency ${level.concurrency}`, "", flowTable(level.project, level.anchor));
  }
  const last = levels.at(-1);
  out.push("", `## Requests of each flow, concurrency ${last.concurrency}`, "");
  out.push("As the client timed them. This server:", "", requestTable(last.project), "", "Anchor:", "", requestTable(last.anchor));
  out.push("", "As wrangler dev logged them. This server:", "", serverSideTable(last.project), "", "Anchor:", "", serverSideTable(last.anchor));
  out.push("", "## CPU time per flow", "", cpuTable(levels));
  out.push("", `Baseline, CPU per request of a metadata GET (no storage, ${BASELINE_REQUESTS} requests one at a time): ${baselineText(baseline)}.`);

  out.push("", "## Hot paths inside workerd (vitest bench, one isolate, bundled as wrangler bundles)", "", microTable(micro));
  const clock = micro.find((result) => result.clockCheck)?.clockCheck;
  if (clock) {
    const agrees = Math.abs(clock.workerdMilliseconds - clock.nodeMilliseconds) <= 0.2 * clock.nodeMilliseconds;
    out.push(
      "",
      `Clock check: ${clock.operations} signatures took ${clock.workerdMilliseconds.toFixed(0)} ms by workerd's clock and ` +
        `${clock.nodeMilliseconds.toFixed(0)} ms by Node's, which includes two loopback requests. ` +
        (agrees
          ? "The clocks agree, so workerd's clock advanced during computation and the numbers above are real."
          : "The clocks disagree by more than 20%, so the numbers above are not trustworthy."),
    );
  }

  out.push("", "## Storage use per request (one flow in-process, local D1 and KV, rows as D1 reports them)", "");
  out.push("This server:", "", flowCostTable(micro, "flowCost"), "", "Anchor (KV list() counts as a read):", "", flowCostTable(micro, "anchorFlowCost"));

  out.push("", "## Bundle (wrangler deploy --dry-run, gzip by node:zlib)", "", bundleTable(bundles));
  out.push("", `wrangler's own line for this server: ${bundles.project.configured.wranglerLine}; with --minify: ${bundles.project.minified.wranglerLine}`);

  out.push("", "## Verdicts", "", "```", verdicts({ levels, bundles, micro }), "```");
  process.stdout.write(`${out.join("\n")}\n`);
}

// wrangler dev runs in process groups of its own, which a Ctrl-C in the terminal does not reach.
// process.exit() runs the "exit" handlers of bench/lib/wrangler.mjs, which kill those groups.
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(130));

try {
  await main();
  log("done");
} catch (error) {
  log(`failed: ${error.stack ?? error}`);
  process.exitCode = 1;
}
