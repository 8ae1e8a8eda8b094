import type { Context } from "hono";
import type { Config } from "./config.js";
import type { Env } from "./env.js";
import type { OAuthError } from "./errors.js";
import type { BearerIdentity } from "./resource/bearer.js";

/** Hono's type parameters for this app: the Worker's bindings and the per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    config: Config;
    requestId: string;
    /** Current time in whole seconds since the epoch; tests replace the clock. */
    now: () => number;
    /** The verified caller of a protected resource, set by `bearerAuth`. */
    auth?: BearerIdentity;
    /** The error this request ended in, for the log line written after it. */
    error?: OAuthError;
  };
}

export type AppContext = Context<AppEnv>;

/** Writes one structured JSON log line for a security-relevant event, such as a detected token reuse. */
export function logEvent(c: AppContext, event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ level: "warn", event, requestId: c.get("requestId"), ...fields }));
}
