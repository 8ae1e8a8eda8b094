declare namespace Cloudflare {
  interface Env {
    DB: D1Database;
    KV: KVNamespace;
    /** Contents of schema.sql, bound by vitest.config.ts so each test file can apply it. */
    TEST_SCHEMA: string;
    [name: string]: unknown;
  }
}
