import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const REPOSITORY_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const WRANGLER_BIN = join(REPOSITORY_ROOT, "node_modules/wrangler/bin/wrangler.js");
const METADATA_PATH = "/.well-known/oauth-authorization-server";

/** Maximum number of characters of wrangler's output kept, the newest, for error messages. */
const MAX_OUTPUT_CHARS = 64 * 1024;

/**
 * Environment for wrangler. It turns off the update check (printed with the banner), metrics and
 * the download of the `Request.cf` object, which would otherwise contact npm and Cloudflare on every
 * start. A private dev registry keeps service bindings away from other `wrangler dev` processes.
 */
function wranglerEnv(stateDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    WRANGLER_HIDE_BANNER: "true",
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_REGISTRY_PATH: join(stateDir, "registry"),
    NO_COLOR: "1",
  };
}

/** A running `wrangler dev` process that serves the Worker on a loopback port. */
export interface WorkerServer {
  /** Base URL of the Worker, which is also its issuer identifier, such as `http://127.0.0.1:41234`. */
  url: string;
  /** Recent stdout and stderr of wrangler, including the Worker's log lines. */
  output(): string;
  /** Kills wrangler and workerd, then deletes the local D1 and KV state. */
  stop(): Promise<void>;
}

export interface StartWorkerOptions {
  /**
   * Wrangler configuration files, relative to the repository root. The first is the authorization
   * server. Defaults to wrangler.toml plus demo/wrangler.toml when it exists, as `npm run dev` runs them.
   */
  configPaths?: string[];
  /** How long to wait for the metadata endpoint to return 200, in milliseconds. */
  readyTimeoutMs?: number;
}

/** Returns a TCP port that was free a moment ago, found by listening on port 0. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function defaultConfigPaths(): string[] {
  const demo = "demo/wrangler.toml";
  return existsSync(join(REPOSITORY_ROOT, demo)) ? ["wrangler.toml", demo] : ["wrangler.toml"];
}

function runWrangler(args: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  // Wrangler needs Node 22, which is the Node that runs vitest under `npm test` or `npx`.
  return promisify(execFile)(process.execPath, [WRANGLER_BIN, ...args], { cwd: REPOSITORY_ROOT, env });
}

/** Sends SIGTERM to the process group of `child`, then SIGKILL if it has not exited after 5 s. */
async function killGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;

  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const timer = new AbortController();
  process.kill(-child.pid!, "SIGTERM");
  const timedOut = await Promise.race([
    exited.then(() => false),
    sleep(5000, true, { signal: timer.signal }).catch(() => false),
  ]);
  timer.abort();
  if (timedOut) {
    process.kill(-child.pid!, "SIGKILL");
    await exited;
  }
}

async function waitUntilReady(url: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`wrangler dev exited (${child.exitCode ?? child.signalCode}) before serving ${url}. Its output:\n${output()}`);
    }
    try {
      const response = await fetch(url + METADATA_PATH, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await sleep(200);
  }
  throw new Error(`wrangler dev did not serve ${url}${METADATA_PATH} within ${timeoutMs} ms. Its output:\n${output()}`);
}

/**
 * Starts `wrangler dev` on a free loopback port with fresh local D1 and KV state under a temporary
 * directory, applies schema.sql, and waits until the metadata endpoint returns 200. `ISSUER` is
 * set to the served URL because the Worker requires the two to be equal.
 */
export async function startWorker(options: StartWorkerOptions = {}): Promise<WorkerServer> {
  const configPaths = options.configPaths ?? defaultConfigPaths();
  const stateDir = await mkdtemp(join(tmpdir(), "mcp-oauth-e2e-"));
  const env = wranglerEnv(stateDir);
  let child: ChildProcess | undefined;
  let log = "";

  const killOnExit = () => {
    if (child?.pid && child.exitCode === null) process.kill(-child.pid, "SIGKILL");
  };

  const stop = async () => {
    process.off("exit", killOnExit);
    if (child) await killGroup(child);
    await rm(stateDir, { recursive: true, force: true });
  };

  try {
    await runWrangler(["d1", "execute", "DB", "--local", "--config", configPaths[0]!, "--persist-to", stateDir, "--file=schema.sql"], env);

    const port = await freePort();
    const inspectorPort = await freePort();
    const url = `http://127.0.0.1:${port}`;
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
        "--var", `ISSUER:${url}`,
        "--show-interactive-dev-session=false",
      ],
      { cwd: REPOSITORY_ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    process.on("exit", killOnExit);
    const append = (chunk: Buffer) => {
      log = (log + chunk.toString("utf8")).slice(-MAX_OUTPUT_CHARS);
    };
    child.stdout!.on("data", append);
    child.stderr!.on("data", append);

    await waitUntilReady(url, child, () => log, options.readyTimeoutMs ?? 60_000);
    return { url, output: () => log, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
