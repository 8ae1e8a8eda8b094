import { readFileSync } from "node:fs";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The Worker writes a JSON log line per failed request; show them only for failing tests.
    silent: "passed-only",
    projects: [
      {
        plugins: [
          cloudflareTest({
            main: "./src/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: { TEST_SCHEMA: readFileSync("./schema.sql", "utf8") },
              // Stands in for the demo MCP server behind the MCP_SERVER service binding: it echoes
              // what the proxy sent, so tests can check the forwarded method, URL, headers and body.
              workers: [{ name: "mcp-demo-server", modules: true, script: readFileSync("./test/workerd/echo-server.js", "utf8") }],
            },
          }),
        ],
        test: {
          name: "workerd",
          include: ["test/workerd/**/*.test.ts"],
          setupFiles: ["./test/workerd/setup.ts"],
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          // Starts one `wrangler dev` for the whole project and provides its URL as "baseUrl".
          globalSetup: ["./test/e2e/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Every file shares that one server and the browser tests launch Chromium, so files run one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
