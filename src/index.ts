import { env } from "cloudflare:workers";
import { createApp } from "./app.js";
import { deleteExpiredRows } from "./cleanup.js";
import { loadConfig } from "./config.js";
import type { Env } from "./env.js";

// Validate the configuration when the Worker starts, so a bad value stops it with a message
// naming the variable instead of failing the first request.
loadConfig(env as unknown as Env);

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller: ScheduledController, workerEnv: Env): Promise<void> {
    const deleted = await deleteExpiredRows(workerEnv.DB, Math.floor(controller.scheduledTime / 1000));
    console.log(JSON.stringify({ level: "info", event: "expired_rows_deleted", count: deleted }));
  },
} satisfies ExportedHandler<Env>;
