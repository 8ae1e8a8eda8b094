declare namespace Cloudflare {
  /** Bindings that bench/vitest.bench.config.ts gives the benchmark tests. */
  interface Env {
    DB: D1Database;
    KV: KVNamespace;
  }
}
