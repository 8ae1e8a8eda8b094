// Statistics, Markdown tables and the verdict per target.

import { STEPS } from "./flows.mjs";

/** Gzip size that the Worker's bundle must not exceed, in bytes. */
export const BUNDLE_TARGET_BYTES = 48 * 1024;

/** This project's flows per second at concurrency 4 must be at least this multiple of the anchor's. */
export const THROUGHPUT_TARGET_RATIO = 2;

/** Nearest-rank percentile of `values`, `p` in 0..100. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Returns the time each flow spent in the requests that `select` picks, in milliseconds. */
function perFlow(flows, select) {
  return flows.map((timings) => timings.filter(select).reduce((sum, timing) => sum + timing.ms, 0));
}

/** Computes p50 and p99 of each step and of the whole flow, and flows per second, for one server at one level. */
export function summarizeRun(run) {
  const steps = {};
  for (const step of STEPS) {
    const times = perFlow(run.flows, (timing) => timing.step === step);
    steps[step] = { p50: percentile(times, 50), p99: percentile(times, 99) };
  }
  const totals = perFlow(run.flows, () => true);
  const requests = {};
  for (const request of new Set(run.flows.flat().map((timing) => timing.request))) {
    const times = perFlow(run.flows, (timing) => timing.request === request);
    requests[request] = { p50: percentile(times, 50), p99: percentile(times, 99) };
  }
  const serverSide = {};
  for (const request of new Set(run.serverLog.map((entry) => entry.request))) {
    const times = run.serverLog.filter((entry) => entry.request === request).map((entry) => entry.ms);
    serverSide[request] = { count: times.length, p50: percentile(times, 50), p99: percentile(times, 99) };
  }
  const cpuPerFlow = {};
  for (const [command, cpuMs] of Object.entries(run.cpuMs)) cpuPerFlow[command] = cpuMs / run.flows.length;
  return {
    flows: run.flows.length,
    requestsPerFlow: run.flows[0]?.length ?? 0,
    steps,
    requests,
    serverSide,
    total: { p50: percentile(totals, 50), p99: percentile(totals, 99) },
    flowsPerSecond: run.flows.length / (run.wallMs / 1000),
    cpuPerFlow,
    clientCpuPerFlow: run.clientCpuMs / run.flows.length,
  };
}

const ms = (value) => value.toFixed(1);
const ratio = (value) => `${value.toFixed(2)}x`;
const kib = (bytes) => `${(bytes / 1024).toFixed(2)} KiB`;

function table(header, rows) {
  const lines = [`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`];
  for (const row of rows) lines.push(`| ${row.join(" | ")} |`);
  return lines.join("\n");
}

/** Formats the latency and throughput tables of one concurrency level. */
export function flowTable(project, anchor) {
  const rows = STEPS.map((step) => [
    step,
    ms(project.steps[step].p50),
    ms(project.steps[step].p99),
    ms(anchor.steps[step].p50),
    ms(anchor.steps[step].p99),
    ratio(project.steps[step].p99 / anchor.steps[step].p99),
  ]);
  rows.push(["whole flow", ms(project.total.p50), ms(project.total.p99), ms(anchor.total.p50), ms(anchor.total.p99), ratio(project.total.p99 / anchor.total.p99)]);
  const latency = table(["step", "this p50 ms", "this p99 ms", "anchor p50 ms", "anchor p99 ms", "p99 this/anchor"], rows);
  const throughput = table(
    ["", "this server", "anchor", "this/anchor"],
    [
      ["flows/s", project.flowsPerSecond.toFixed(2), anchor.flowsPerSecond.toFixed(2), ratio(project.flowsPerSecond / anchor.flowsPerSecond)],
      ["requests per flow", String(project.requestsPerFlow), String(anchor.requestsPerFlow), ""],
      ["flows measured", String(project.flows), String(anchor.flows), ""],
    ],
  );
  return `${latency}\n\n${throughput}`;
}

/** Formats the latency of each request of one server, which splits the authorization step into its requests. */
export function requestTable(summary) {
  const rows = Object.entries(summary.requests).map(([request, { p50, p99 }]) => [request, ms(p50), ms(p99)]);
  return table(["request", "p50 ms", "p99 ms"], rows);
}

/** Formats the requests as wrangler dev logged them, by method and path, with the time its log line gives. */
export function serverSideTable(summary) {
  const rows = Object.entries(summary.serverSide).map(([request, { count, p50, p99 }]) => [request, String(count), String(p50), String(p99)]);
  return table(["request (wrangler's log)", "count", "p50 ms", "p99 ms"], rows);
}

/**
 * Formats the CPU milliseconds per flow of each server's processes (wrangler's Node, its esbuild,
 * and workerd, which also runs the local D1 and KV) and of this benchmark's client, over the turns
 * of that server.
 */
export function cpuTable(levels) {
  const commands = [...new Set(levels.flatMap((level) => [...Object.keys(level.project.cpuPerFlow), ...Object.keys(level.anchor.cpuPerFlow)]))].sort();
  const rows = [];
  for (const level of levels) {
    for (const [label, summary] of [["this server", level.project], ["anchor", level.anchor]]) {
      const server = commands.map((command) => ms(summary.cpuPerFlow[command] ?? 0));
      const serverTotal = Object.values(summary.cpuPerFlow).reduce((sum, value) => sum + value, 0);
      rows.push([String(level.concurrency), label, ...server, ms(serverTotal), ms(summary.clientCpuPerFlow)]);
    }
  }
  return table(["concurrency", "server", ...commands.map((command) => `${command} ms`), "server total ms", "benchmark client ms"], rows);
}

/**
 * Formats the D1 and KV use of each request of one flow, with a total row. `field` names the test
 * meta field: "flowCost" for this server, "anchorFlowCost" for the anchor.
 */
export function flowCostTable(results, field) {
  const costs = results.find((result) => result[field])?.[field] ?? [];
  const counts = ["d1RoundTrips", "d1Statements", "rowsRead", "rowsWritten", "kvReads", "kvWrites"];
  const rows = costs.map((cost) => [cost.step, cost.request, ...counts.map((count) => String(cost[count]))]);
  rows.push(["whole flow", "", ...counts.map((count) => String(costs.reduce((sum, cost) => sum + cost[count], 0)))]);
  return table(["step", "request", "D1 round trips", "D1 statements", "rows read", "rows written", "KV reads", "KV writes"], rows);
}

export function microTable(results) {
  const rows = results
    .filter((result) => result.micro)
    .map(({ micro }) => [
      micro.operation,
      Math.round(micro.opsPerSecond).toLocaleString("en-US"),
      micro.medianMicroseconds.toFixed(1),
      micro.meanMicroseconds.toFixed(1),
      `±${micro.rme.toFixed(1)}%`,
      String(micro.samples),
    ]);
  return table(["operation", "ops/s (median batch)", "median µs", "mean µs", "error of mean", "batches"], rows);
}

export function bundleTable(bundles) {
  const row = (name, sizes) => [name, kib(sizes.configured.raw), kib(sizes.configured.gzip), kib(sizes.minified.raw), kib(sizes.minified.gzip)];
  return table(
    ["Worker", "as configured", "as configured, gzip", "--minify", "--minify, gzip"],
    [row("this server", bundles.project), row("anchor", bundles.anchor)],
  );
}

/** Writes one line per target, MET or MISSED, with the numbers behind it. */
export function verdicts({ levels, bundles, micro }) {
  const lines = [];

  const c4 = levels.find((level) => level.concurrency === 4);
  if (c4) {
    const achieved = c4.project.flowsPerSecond / c4.anchor.flowsPerSecond;
    lines.push(
      `${achieved >= THROUGHPUT_TARGET_RATIO ? "MET   " : "MISSED"} full-flow throughput at concurrency 4 >= ${THROUGHPUT_TARGET_RATIO}x the anchor's: ` +
        `${c4.project.flowsPerSecond.toFixed(2)} vs ${c4.anchor.flowsPerSecond.toFixed(2)} flows/s = ${ratio(achieved)}`,
    );
  }

  for (const level of levels) {
    const worse = STEPS.filter((step) => level.project.steps[step].p99 > level.anchor.steps[step].p99);
    const detail = worse.map((step) => `${step} ${ms(level.project.steps[step].p99)} vs ${ms(level.anchor.steps[step].p99)} ms`).join("; ");
    lines.push(
      `${worse.length === 0 ? "MET   " : "MISSED"} every step's p99 no worse than the anchor's, concurrency ${level.concurrency}: ` +
        (worse.length === 0 ? "all steps" : `worse in ${worse.length} of ${STEPS.length}: ${detail}`),
    );
  }

  const { configured, minified } = bundles.project;
  lines.push(
    `${configured.gzip <= BUNDLE_TARGET_BYTES ? "MET   " : "MISSED"} bundle <= 48 KiB gzip, as wrangler.toml configures it: ${kib(configured.gzip)} ` +
      `(with --minify: ${kib(minified.gzip)}, ${minified.gzip <= BUNDLE_TARGET_BYTES ? "within" : "over"} the target)`,
  );

  const check = micro.find((result) => result.storageCheck)?.storageCheck;
  const clean = check && check.afterLoad.d1 === 0 && check.afterLoad.kv === 0 && check.afterLoad.fetch === 0 && check.forwarded === check.requests;
  lines.push(
    `${clean ? "MET   " : "MISSED"} bearer verification with no storage read and no network call: ` +
      (check
        ? `${check.requests} requests to /mcp after the key was loaded made ${check.afterLoad.d1} D1 calls, ${check.afterLoad.kv} KV calls and ${check.afterLoad.fetch} fetch() calls ` +
          `(loading the key on the first request: ${check.firstLoad.d1} D1 calls, ${check.firstLoad.kv} KV, ${check.firstLoad.fetch} fetch)`
        : "the storage check did not run"),
  );
  return lines.join("\n");
}
