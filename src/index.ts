import { env } from "cloudflare:workers";
import { createApp } from "./app.js";
import { loadConfig } from "./config.js";
import type { Env } from "./env.js";

// Validate the configuration when the Worker starts, so a bad value stops it with a message
// naming the variable instead of failing the first request.
loadConfig(env as unknown as Env);

export default createApp();
