import { env } from "cloudflare:test";
import { inject, test } from "vitest";
import type { Env } from "../../src/env.js";
import type { BearerEnv } from "../../src/resource/bearer.js";

/**
 * Hot paths of the Worker, timed inside workerd by tinybench. Each benchmark function runs a batch
 * of operations long enough (about 20 to 40 ms) that workerd's clock, which steps in whole
 * milliseconds, costs at most a few percent. Each test stores its result in the test's meta, where
 * bench/micro/reporter.ts collects it.
 */

declare module "vitest" {
  interface ProvidedContext {
    /** How long tinybench samples each operation, in milliseconds. */
    benchTimeMs: number;
    /** Path of the module with the code under benchmark: bench/micro/entry.ts, usually bundled. */
    hotPathsModule: string;
    /** The text of schema.sql. */
    schema: string;
  }
  interface TaskMeta {
    micro?: MicroResult;
    clockCheck?: ClockCheck;
    storageCheck?: StorageCheck;
  }
}

interface MicroResult {
  operation: string;
  /** Operations per second by the median batch, which other load on the machine disturbs least. */
  opsPerSecond: number;
  medianMicroseconds: number;
  meanMicroseconds: number;
  samples: number;
  /** Relative margin of error of the mean, in percent. */
  rme: number;
}

interface ClockCheck {
  operations: number;
  workerdMilliseconds: number;
  nodeMilliseconds: number;
}

interface StorageCheck {
  /** Requests to /mcp with a valid token, sent after the signing keys were loaded. */
  requests: number;
  /** D1 statements prepared, KV operations and `fetch()` calls made while the first request loaded the keys. */
  firstLoad: { d1: number; kv: number; fetch: number };
  /** The same counts over all the later requests. */
  afterLoad: { d1: number; kv: number; fetch: number };
  /** Requests that reached the MCP server binding, each with a 200 response. */
  forwarded: number;
}

const {
  Hono,
  createApp,
  bearerAuth,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  keySetOf,
  loadConfig,
  loadSigningKeys,
  parseClientMetadata,
  signAccessToken,
} = (await import(/* @vite-ignore */ inject("hotPathsModule"))) as typeof import("./entry.js");

const ISSUER = "http://127.0.0.1:8787";
const RESOURCE = `${ISSUER}/mcp`;
const NOW = Math.floor(Date.now() / 1000);
const benchOptions = { time: inject("benchTimeMs") };

const { privateKey } = await generateKeyPair("ES256", { extractable: true });
const config = loadConfig({ ISSUER, SIGNING_KEYS: JSON.stringify([await exportJWK(privateKey)]) });
// With SIGNING_KEYS set, loading imports the keys and touches no binding.
const keys = await loadSigningKeys({} as Env, config, NOW);

const grant = { grantId: "g".repeat(22), clientId: "c".repeat(22), userId: "u".repeat(22), scope: "mcp", resource: RESOURCE, name: "bench-user" };
const token = await signAccessToken(config, keys, grant, NOW);

// The middleware as resource/proxy.ts configures it: the server's own key set, in memory.
const protectedApp = new Hono<BearerEnv>()
  .use(
    "/mcp",
    bearerAuth({
      issuer: ISSUER,
      resource: RESOURCE,
      resourceMetadata: `${ISSUER}/.well-known/oauth-protected-resource/mcp`,
      keys: () => keySetOf(keys),
    }),
  )
  .post("/mcp", (c) => c.text(c.var.auth.subject));
const mcpRequest = { method: "POST", headers: { Authorization: `Bearer ${token}` } };

/** A registration body as an MCP client sends it (RFC 7591 §2). */
const registration = {
  client_name: "Benchmark client",
  redirect_uris: ["http://127.0.0.1:33418/callback", "http://localhost:33418/callback"],
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
  token_endpoint_auth_method: "none",
  scope: "mcp",
  client_uri: "https://client.example/",
  software_id: "benchmark",
  software_version: "1.0.0",
};

async function runBatch(batch: number, operation: () => unknown): Promise<void> {
  for (let i = 0; i < batch; i++) await operation();
}

function summarize(operation: string, batch: number, result: { latency: { p50: number; mean: number; samplesCount: number; rme: number } }): MicroResult {
  return {
    operation,
    opsPerSecond: (batch * 1000) / result.latency.p50,
    medianMicroseconds: (result.latency.p50 * 1000) / batch,
    meanMicroseconds: (result.latency.mean * 1000) / batch,
    samples: result.latency.samplesCount,
    rme: result.latency.rme,
  };
}

test("signAccessToken", async ({ bench, task }) => {
  const batch = 1000;
  const result = await bench("signAccessToken", () => runBatch(batch, () => signAccessToken(config, keys, grant, NOW))).run(benchOptions);
  task.meta.micro = summarize("signAccessToken (ES256 JWT)", batch, result);
});

test("bearerAuth", async ({ bench, task }) => {
  const batch = 400;
  const response = await protectedApp.request("/mcp", mcpRequest);
  if (response.status !== 200) throw new Error(`bearerAuth rejected the benchmark token: ${response.status} ${await response.text()}`);
  const result = await bench("bearerAuth", () => runBatch(batch, () => protectedApp.request("/mcp", mcpRequest))).run(benchOptions);
  task.meta.micro = summarize("bearerAuth middleware (Hono request)", batch, result);
});

test("jwtVerify", async ({ bench, task }) => {
  const batch = 400;
  const options = { issuer: ISSUER, audience: RESOURCE, typ: "at+jwt", algorithms: ["ES256"], requiredClaims: ["sub", "exp", "client_id"] };
  const result = await bench("jwtVerify", () => runBatch(batch, () => jwtVerify(token, keySetOf(keys), options))).run(benchOptions);
  task.meta.micro = summarize("jwtVerify with the local key set", batch, result);
});

test("parseClientMetadata", async ({ bench, task }) => {
  const batch = 2000;
  const result = await bench("parseClientMetadata", () => runBatch(batch, () => parseClientMetadata(config, registration))).run(benchOptions);
  task.meta.micro = summarize("parseClientMetadata (registration)", batch, result);
});

test("whole app, metadata GET", async ({ bench, task }) => {
  const batch = 1000;
  const app = createApp();
  const workerEnv = { ISSUER } as unknown as Env;
  const context = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
  const get = () => app.fetch(new Request(`${ISSUER}/.well-known/oauth-authorization-server`), workerEnv, context);
  const response = await get();
  if (response.status !== 200) throw new Error(`The metadata request failed: ${response.status} ${await response.text()}`);
  const result = await bench("whole app, metadata GET", () => runBatch(batch, get)).run(benchOptions);
  task.meta.micro = summarize("whole app: GET metadata (routing and middleware)", batch, result);
});

/**
 * Signs a fixed number of tokens and times them by workerd's clock and by Node's, read from a
 * loopback server before and after. Equal times show that workerd's clock advances during
 * computation, not only across I/O, so the numbers above are real.
 */
test("clock check", async ({ task }) => {
  const nodeClock = async () => Number(await (await fetch(inject("clockUrl"))).text());
  const operations = 4000;
  const nodeStarted = await nodeClock();
  const started = performance.now();
  await runBatch(operations, () => signAccessToken(config, keys, grant, NOW));
  const workerdMilliseconds = performance.now() - started;
  const nodeMilliseconds = (await nodeClock()) - nodeStarted;
  task.meta.clockCheck = { operations, workerdMilliseconds, nodeMilliseconds };
});

/** Wraps a binding so that every method call on it adds one to `counts[name]`. */
function counted<T extends object>(binding: T, counts: Record<string, number>, name: string): T {
  return new Proxy(binding, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        counts[name] = (counts[name] ?? 0) + 1;
        return value.apply(target, args);
      };
    },
  });
}

/**
 * Sends requests through the whole Worker to /mcp, as in development, where the key comes from D1
 * because SIGNING_KEYS is not set, and counts D1, KV and `fetch()` use. The first request loads the
 * key. No later one may touch storage or the network before it reaches the MCP server binding.
 */
test("bearer verification storage check", async ({ task }) => {
  for (const statement of inject("schema").split(";")) {
    const sql = statement.replace(/^\s*--.*$/gm, "").trim();
    if (sql) await env.DB.prepare(sql).run();
  }

  const counts: Record<string, number> = {};
  let forwarded = 0;
  const workerEnv = {
    ISSUER,
    DB: counted(env.DB, counts, "d1"),
    KV: counted(env.KV, counts, "kv"),
    MCP_SERVER: {
      fetch: async () => {
        forwarded++;
        return new Response("{}", { headers: { "Content-Type": "application/json" } });
      },
    },
  };
  const app = createApp();
  const originalFetch = globalThis.fetch;
  globalThis.fetch = (...args: Parameters<typeof fetch>) => {
    counts.fetch = (counts.fetch ?? 0) + 1;
    return originalFetch(...args);
  };
  const snapshot = () => ({ d1: counts.d1 ?? 0, kv: counts.kv ?? 0, fetch: counts.fetch ?? 0 });
  const post = (authorization: string) =>
    app.fetch(
      new Request(RESOURCE, { method: "POST", headers: { Authorization: authorization, "Content-Type": "application/json" }, body: "{}" }),
      workerEnv as unknown as Env,
      { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext,
    );

  try {
    // The first request carries a token no key signed: it loads (here: creates) the key and gets 401.
    const first = await post("Bearer a.b.c");
    if (first.status !== 401) throw new Error(`/mcp accepted a forged token: ${first.status}`);
    const firstLoad = snapshot();

    const developmentKeys = await loadSigningKeys(workerEnv as unknown as Env, loadConfig(workerEnv), NOW);
    const validToken = await signAccessToken(loadConfig(workerEnv), developmentKeys, grant, NOW);
    const requests = 50;
    for (let i = 0; i < requests; i++) {
      const response = await post(`Bearer ${validToken}`);
      if (response.status !== 200) throw new Error(`/mcp rejected a valid token: ${response.status} ${await response.text()}`);
    }
    const total = snapshot();
    task.meta.storageCheck = {
      requests,
      firstLoad,
      afterLoad: { d1: total.d1 - firstLoad.d1, kv: total.kv - firstLoad.kv, fetch: total.fetch - firstLoad.fetch },
      forwarded,
    };
  } finally {
    globalThis.fetch = originalFetch;
  }
});
