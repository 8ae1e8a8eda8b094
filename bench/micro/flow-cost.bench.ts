import { env } from "cloudflare:test";
import { inject, test } from "vitest";
import type { Env } from "../../src/env.js";
import anchor from "../anchor/src/index.js";
import { anchorFlow, projectFlow } from "../lib/flows.mjs";

/**
 * Storage use of each request of one full flow, measured: the same flows as bench/run.mjs sends,
 * served in-process by this project's Worker and by the anchor, with workerd's local D1 and KV.
 * Every D1 and KV call is counted, with the rows read and written that D1 reports per statement.
 */

declare module "vitest" {
  interface TaskMeta {
    flowCost?: RequestCost[];
    anchorFlowCost?: RequestCost[];
  }
}

/** Storage use of one request. */
interface RequestCost {
  step: string;
  request: string;
  /** Calls that wait for D1: one per statement run alone, one per batch. */
  d1RoundTrips: number;
  d1Statements: number;
  rowsRead: number;
  rowsWritten: number;
  kvReads: number;
  kvWrites: number;
}

const { createApp } = (await import(/* @vite-ignore */ inject("hotPathsModule"))) as typeof import("./entry.js");

type Counters = Omit<RequestCost, "step" | "request">;

const newCounters = (): Counters => ({ d1RoundTrips: 0, d1Statements: 0, rowsRead: 0, rowsWritten: 0, kvReads: 0, kvWrites: 0 });

interface D1Meta {
  rows_read?: number;
  rows_written?: number;
}

function addMeta(counters: Counters, meta: D1Meta | undefined): void {
  counters.rowsRead += meta?.rows_read ?? 0;
  counters.rowsWritten += meta?.rows_written ?? 0;
}

const RAW = Symbol("raw statement");

/** Wraps a prepared statement so that running it adds to `counters`; `first()` runs as `all()` to see its meta. */
function countedStatement(statement: D1PreparedStatement, counters: () => Counters): D1PreparedStatement {
  const record = (meta: D1Meta | undefined) => {
    counters().d1RoundTrips++;
    counters().d1Statements++;
    addMeta(counters(), meta);
  };
  const wrapped = {
    [RAW]: statement,
    bind: (...values: unknown[]) => countedStatement(statement.bind(...values), counters),
    async first(column?: string) {
      if (column !== undefined) throw new Error("first(column) is not counted; extend bench/micro/flow-cost.bench.ts.");
      const result = await statement.all();
      record(result.meta as D1Meta);
      return result.results[0] ?? null;
    },
    async all() {
      const result = await statement.all();
      record(result.meta as D1Meta);
      return result;
    },
    async run() {
      const result = await statement.run();
      record(result.meta as D1Meta);
      return result;
    },
    async raw(options?: { columnNames?: boolean }) {
      counters().d1RoundTrips++;
      counters().d1Statements++;
      return statement.raw(options as { columnNames: true });
    },
  };
  return wrapped as unknown as D1PreparedStatement;
}

function countedDatabase(db: D1Database, counters: () => Counters): D1Database {
  return {
    prepare: (sql: string) => countedStatement(db.prepare(sql), counters),
    async batch(statements: D1PreparedStatement[]) {
      const raw = statements.map((statement) => (statement as unknown as { [RAW]: D1PreparedStatement })[RAW]);
      const results = await db.batch(raw);
      counters().d1RoundTrips++;
      counters().d1Statements += statements.length;
      for (const result of results) addMeta(counters(), result.meta as D1Meta);
      return results;
    },
    exec: () => {
      throw new Error("exec() is not counted; extend bench/micro/flow-cost.bench.ts.");
    },
    dump: () => db.dump(),
    withSession: () => {
      throw new Error("withSession() is not counted; extend bench/micro/flow-cost.bench.ts.");
    },
  } as unknown as D1Database;
}

function countedNamespace(kv: KVNamespace, counters: () => Counters): KVNamespace {
  return new Proxy(kv, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (property === "get" || property === "getWithMetadata" || property === "list") counters().kvReads++;
        else counters().kvWrites++;
        return value.apply(target, args);
      };
    },
  });
}

test("storage cost per request", async ({ task }) => {
  for (const statement of inject("schema").split(";")) {
    const sql = statement.replace(/^\s*--.*$/gm, "").trim();
    if (sql) await env.DB.prepare(sql).run();
  }

  const issuer = "http://127.0.0.1:8787";
  let current = newCounters();
  const workerEnv = {
    ISSUER: issuer,
    DB: countedDatabase(env.DB, () => current),
    KV: countedNamespace(env.KV, () => current),
    // Stands in for the demo MCP server: it returns the caller that the proxy passed on.
    MCP_SERVER: {
      fetch: async (request: Request) => {
        const name = decodeURIComponent(request.headers.get("MCP-Auth-Name") ?? "");
        return Response.json({ jsonrpc: "2.0", id: 1, result: { content: [], structuredContent: { name } } });
      },
    },
  };
  const app = createApp();
  const context = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
  const perRequest: Counters[] = [];
  const originalFetch = globalThis.fetch;
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    current = newCounters();
    perRequest.push(current);
    return app.fetch(new Request(input, init), workerEnv as unknown as Env, context);
  };

  try {
    // The first flow loads (and here creates) the signing key; the second shows the steady state.
    await projectFlow(issuer, "http://127.0.0.1:33418/callback");
    perRequest.length = 0;
    const timings = await projectFlow(issuer, "http://127.0.0.1:33418/callback");
    task.meta.flowCost = timings.map((timing: { step: string; request: string }, index: number) => ({
      step: timing.step,
      request: timing.request,
      ...perRequest[index]!,
    }));
  } finally {
    globalThis.fetch = originalFetch;
  }
});

test("anchor storage cost per request", async ({ task }) => {
  const origin = "http://127.0.0.1:8788";
  let current = newCounters();
  const anchorEnv = { ORIGIN: origin, OAUTH_KV: countedNamespace(env.KV, () => current) };
  const perRequest: Counters[] = [];
  const originalFetch = globalThis.fetch;
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    current = newCounters();
    perRequest.push(current);
    const context = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
    const request = new Request(input, init) as Parameters<typeof anchor.fetch>[0];
    return anchor.fetch(request, anchorEnv as unknown as Parameters<typeof anchor.fetch>[1], context);
  };

  try {
    await anchorFlow(origin, "http://127.0.0.1:33418/callback");
    perRequest.length = 0;
    const timings = await anchorFlow(origin, "http://127.0.0.1:33418/callback");
    task.meta.anchorFlowCost = timings.map((timing: { step: string; request: string }, index: number) => ({
      step: timing.step,
      request: timing.request,
      ...perRequest[index]!,
    }));
  } finally {
    globalThis.fetch = originalFetch;
  }
});
