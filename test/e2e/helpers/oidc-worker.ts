import { setTimeout as sleep } from "node:timers/promises";
import { startConfiguredWorker } from "./mcp-worker.js";
import type { WorkerServer } from "./server.js";

/** The upstream provider the Worker signs users in at, as the `OIDC_*` variables name it. */
export interface UpstreamSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Extra `[vars]`, such as `OIDC_ALLOWED_EMAIL_DOMAINS`. */
  vars?: Record<string, unknown>;
  /** Whether to run the demo MCP server beside the Worker. Only tests that call `/mcp` need it. */
  demo?: boolean;
}

/**
 * Starts `wrangler dev` with `IDENTITY_PROVIDER = "oidc"`. The variables go into a temporary
 * wrangler configuration because the array variables must be JSON, which `--var` cannot pass.
 */
export function startOidcWorker(settings: UpstreamSettings): Promise<WorkerServer> {
  return startConfiguredWorker({
    demo: settings.demo ?? false,
    vars: {
      IDENTITY_PROVIDER: "oidc",
      OIDC_ISSUER: settings.issuer,
      OIDC_CLIENT_ID: settings.clientId,
      OIDC_CLIENT_SECRET: settings.clientSecret,
      ...settings.vars,
    },
  });
}

/** A structured JSON log line that the Worker wrote, such as `{"event":"upstream_sign_in_failed",…}`. */
export type LogLine = Record<string, unknown>;

/** Parses every line of wrangler's output that carries a JSON object. Other lines are skipped. */
export function logLines(output: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of output.split("\n")) {
    const start = line.indexOf("{");
    if (start === -1) continue;
    try {
      const parsed: unknown = JSON.parse(line.slice(start));
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) lines.push(parsed as LogLine);
    } catch {
      // Not JSON: wrangler's own messages.
    }
  }
  return lines;
}

/**
 * Waits until the Worker's output has a JSON log line that matches `predicate`, and returns it.
 * Wrangler forwards the Worker's console a little after the response, so this polls.
 * @throws {Error} with the JSON lines seen, when none matched within `timeoutMs`
 */
export async function waitForLogLine(worker: WorkerServer, predicate: (line: LogLine) => boolean, timeoutMs = 3000): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = logLines(worker.output()).find(predicate);
    if (match) return match;
    if (Date.now() >= deadline) {
      const seen = logLines(worker.output()).map((line) => JSON.stringify(line));
      throw new Error(`No matching log line within ${timeoutMs} ms. JSON lines seen:\n${seen.join("\n")}`);
    }
    await sleep(100);
  }
}
