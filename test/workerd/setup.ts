import { env } from "cloudflare:test";

// Apply schema.sql to the test's D1 database; each statement is idempotent.
const statements = (env.TEST_SCHEMA as string)
  .split(";")
  .map((statement) => statement.replace(/^\s*--.*$/gm, "").trim())
  .filter(Boolean);
await env.DB.batch(statements.map((statement) => env.DB.prepare(statement)));
