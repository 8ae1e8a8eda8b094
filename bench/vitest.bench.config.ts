import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { buildSync } from "esbuild";
import { defineConfig } from "vitest/config";

/**
 * Micro-benchmarks of the Worker's hot paths and the storage count of one flow, run inside workerd
 * by the Cloudflare Vitest plugin: `npx vitest bench --config bench/vitest.bench.config.ts`.
 * bench/run.mjs runs it with bench/micro/reporter.ts. BENCH_MICRO_TIME_MS sets how long each
 * operation is sampled, in milliseconds (default 2000).
 */

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * Bundles bench/micro/entry.ts into one module, as wrangler bundles the Worker. Without it, Vite's
 * module runner wraps every export in a getter, and zod's calls between its own modules go through
 * them (Vitest warns about it), which slows the measured code below what it runs at when deployed.
 * BENCH_MICRO_BUNDLE=0 measures the unbundled modules instead.
 */
function hotPathsModule(): string {
  if (process.env.BENCH_MICRO_BUNDLE === "0") return join(root, "bench/micro/entry.ts");
  const outfile = join(tmpdir(), "mcp-oauth-edge-bench", "hot-paths.mjs");
  buildSync({
    entryPoints: [join(root, "bench/micro/entry.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser"],
    outfile,
    external: ["cloudflare:*"],
    logLevel: "warning",
  });
  return outfile;
}

export default defineConfig({
  plugins: [
    cloudflareTest({
      // Local D1 and KV for the storage checks. nodejs_compat lets bench/lib/flows.mjs, written for
      // Node, run here unchanged.
      miniflare: { compatibilityDate: "2026-11-01", compatibilityFlags: ["nodejs_compat"], d1Databases: ["DB"], kvNamespaces: ["KV"] },
    }),
  ],
  test: {
    root,
    include: ["bench/micro/**/*.bench.ts"],
    globalSetup: ["./bench/micro/clock-server.ts"],
    provide: {
      benchTimeMs: Number(process.env.BENCH_MICRO_TIME_MS ?? 2000),
      hotPathsModule: hotPathsModule(),
      schema: readFileSync(join(root, "schema.sql"), "utf8"),
    },
    testTimeout: 120_000,
  },
});
