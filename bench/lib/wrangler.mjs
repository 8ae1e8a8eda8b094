// Starts and stops `wrangler dev` on a free loopback port with its own local D1 and KV state, and
// runs other wrangler commands. This code sends requests to 127.0.0.1 only, and the environment
// below turns off wrangler's own update check, metrics and `Request.cf` download.

import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const REPOSITORY_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WRANGLER_BIN = join(REPOSITORY_ROOT, "node_modules/wrangler/bin/wrangler.js");

/** Maximum number of characters of wrangler's output kept, the newest, for error messages. */
const MAX_OUTPUT_CHARS = 32 * 1024;

/**
 * Environment for wrangler: no banner or update check, no metrics, no download of the `Request.cf`
 * object. With `stateDir`, also a private dev registry, so that service bindings never reach
 * another `wrangler dev` on this machine.
 */
function wranglerEnv(stateDir) {
  return {
    ...process.env,
    WRANGLER_HIDE_BANNER: "true",
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    NO_COLOR: "1",
    ...(stateDir ? { WRANGLER_REGISTRY_PATH: join(stateDir, "registry") } : {}),
  };
}

/** Runs wrangler with the Node that runs this script, which `npm run` makes Node 22. */
export function runWrangler(args, { cwd = REPOSITORY_ROOT, env = wranglerEnv() } = {}) {
  return promisify(execFile)(process.execPath, [WRANGLER_BIN, ...args], { cwd, env, maxBuffer: 16 * 1024 * 1024 });
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Sends SIGTERM to the process group of `child`, then SIGKILL if it is still running after 5 s. */
async function killGroup(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(-child.pid, "SIGTERM");
  const timer = new AbortController();
  const timedOut = await Promise.race([
    exited.then(() => false),
    sleep(5000, true, { signal: timer.signal }).catch(() => false),
  ]);
  timer.abort();
  if (timedOut) {
    process.kill(-child.pid, "SIGKILL");
    await exited;
  }
}

async function waitUntilReady(url, readyPath, child, output, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`wrangler dev exited (${child.exitCode ?? child.signalCode}) before serving ${url}. Its output:\n${output()}`);
    }
    try {
      const response = await fetch(url + readyPath, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await sleep(200);
  }
  throw new Error(`wrangler dev did not serve ${url}${readyPath} within ${timeoutMs} ms. Its output:\n${output()}`);
}

/**
 * @typedef {{ request: string, status: number, ms: number }} RequestLogEntry
 * One request as wrangler dev logs it, with the duration that wrangler's log line gives.
 */

/** Parses a line such as `[wrangler:info] POST /token 200 OK (22ms)`. */
function parseRequestLine(line) {
  const match = line.match(/\[wrangler:info\] ([A-Z]+) (\S+) (\d{3}) .*\((\d+)ms\)\s*$/);
  if (!match) return undefined;
  const [, method, path, status, ms] = match;
  return { request: `${method} ${path.split("?")[0]}`, status: Number(status), ms: Number(ms) };
}

/**
 * Starts `wrangler dev` with the given configuration files (relative to `cwd`) on a free loopback
 * port, with fresh local state in a temporary directory, and waits until `readyPath` returns 200.
 * @param {object} options
 * @param {string} options.name short name, part of the temporary directory's name
 * @param {string[]} options.configPaths wrangler configuration files; the first is the main Worker
 * @param {string} [options.script] module to serve in place of the first configuration's `main`
 * @param {string} [options.cwd] directory that the configuration paths are relative to
 * @param {(url: string) => Record<string, string>} options.vars variables set with `--var`, given the served URL
 * @param {string} [options.schema] SQL file applied to the D1 binding `DB` before the start
 * @param {string} options.readyPath path that returns 200 once the Worker serves
 * @returns {Promise<{ url: string, pgid: number, output: () => string, takeRequestLog: () => RequestLogEntry[], stop: () => Promise<void> }>}
 */
export async function startWranglerDev({ name, configPaths, script, cwd = REPOSITORY_ROOT, vars, schema, readyPath }) {
  const stateDir = await mkdtemp(join(tmpdir(), `bench-${name}-`));
  const env = wranglerEnv(stateDir);
  let child;
  let log = "";
  let partialLine = "";
  let requestLog = [];

  const killOnExit = () => {
    if (child?.pid && child.exitCode === null) process.kill(-child.pid, "SIGKILL");
  };
  const stop = async () => {
    process.off("exit", killOnExit);
    if (child) await killGroup(child);
    await rm(stateDir, { recursive: true, force: true });
  };

  try {
    if (schema) {
      await runWrangler(["d1", "execute", "DB", "--local", "--config", configPaths[0], "--persist-to", stateDir, `--file=${schema}`], {
        cwd,
        env,
      });
    }

    const port = await freePort();
    const inspectorPort = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const varArgs = Object.entries(vars(url)).flatMap(([key, value]) => ["--var", `${key}:${value}`]);
    // detached makes wrangler the leader of a new process group, so stop() also reaches workerd.
    child = spawn(
      process.execPath,
      [
        WRANGLER_BIN,
        "dev",
        ...configPaths.flatMap((path) => ["--config", path]),
        "--ip", "127.0.0.1",
        "--port", String(port),
        "--inspector-port", String(inspectorPort),
        "--persist-to", stateDir,
        "--show-interactive-dev-session=false",
        ...(script ? [script] : []),
        ...varArgs,
      ],
      { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    process.on("exit", killOnExit);
    const append = (chunk) => {
      log = (log + chunk.toString("utf8")).slice(-MAX_OUTPUT_CHARS);
    };
    child.stdout.on("data", (chunk) => {
      append(chunk);
      const lines = (partialLine + chunk.toString("utf8")).split("\n");
      partialLine = lines.pop();
      for (const line of lines) {
        const entry = parseRequestLine(line);
        if (entry) requestLog.push(entry);
      }
    });
    child.stderr.on("data", append);

    await waitUntilReady(url, readyPath, child, () => log, 90_000);
    const takeRequestLog = () => {
      const entries = requestLog;
      requestLog = [];
      return entries;
    };
    return { url, pgid: child.pid, output: () => log, takeRequestLog, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
