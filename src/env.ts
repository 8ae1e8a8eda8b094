/** Bindings and variables the Worker receives; wrangler.toml declares them. */
export interface Env {
  DB: D1Database;
  KV: KVNamespace;
  [name: string]: unknown;
}
