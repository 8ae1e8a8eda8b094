import * as z from "zod/mini";
import { isLoopbackHost } from "./redirect-uri.js";

const seconds = (fallback: number, min = 1) => z._default(z.int().check(z.minimum(min)), fallback);

const urlString = z.string().check(
  // abort: zod/mini runs later checks after a failed one, and they call new URL().
  z.refine((value) => URL.canParse(value), { message: "must be an absolute URL", abort: true }),
);

/** Checks the shape of the SIGNING_KEYS secret; keys.ts imports the keys themselves. */
function signingKeysValid(value: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return false;
  }
  return (
    Array.isArray(parsed) &&
    parsed.length > 0 &&
    parsed.every(
      (jwk) =>
        typeof jwk === "object" &&
        jwk !== null &&
        jwk.kty === "EC" &&
        jwk.crv === "P-256" &&
        ["x", "y", "d"].every((member) => typeof jwk[member] === "string"),
    )
  );
}

/** True when ISSUER is a loopback URL; false for an invalid one, which its own check reports. */
function loopbackIssuer(issuer: string): boolean {
  return URL.canParse(issuer) && isLoopbackHost(new URL(issuer).hostname);
}

const configSchema = z
  .object({
    ISSUER: urlString.check(
      z.refine((value) => /^https?:$/.test(new URL(value).protocol), { message: "must use http or https" }),
      z.refine((value) => new URL(value).protocol === "https:" || isLoopbackHost(new URL(value).hostname), {
        message: "must use https unless the host is loopback",
      }),
      z.refine((value) => !/[?#]/.test(value), { message: "must not contain a query or fragment" }),
      z.refine((value) => !value.endsWith("/"), { message: "must not end with a slash" }),
    ),
    SCOPES_SUPPORTED: z._default(z.array(z.string().check(z.regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/))).check(z.minLength(1)), [
      "mcp",
    ]),
    DEFAULT_SCOPE: z.optional(z.string()),
    RESOURCES: z.optional(z.array(urlString).check(z.minLength(1))),
    ACCESS_TOKEN_TTL: seconds(3600),
    REFRESH_TOKEN_TTL: seconds(30 * 24 * 3600),
    REFRESH_TOKEN_GRACE_PERIOD: seconds(60, 0),
    AUTHORIZATION_CODE_TTL: z._default(z.int().check(z.minimum(60), z.maximum(600)), 60),
    CLIENT_SECRET_TTL: seconds(0, 0),
    SESSION_TTL: seconds(8 * 3600),
    CORS_ALLOWED_ORIGINS: z._default(z.array(z.string()).check(z.minLength(1)), ["*"]),
    CORS_ALLOW_CREDENTIALS: z._default(z.boolean(), false),
    MAX_REQUEST_BYTES: z._default(z.int().check(z.minimum(1024), z.maximum(1024 * 1024)), 16 * 1024),
    MAX_REDIRECT_URIS: z._default(z.int().check(z.minimum(1), z.maximum(100)), 20),
    IDENTITY_PROVIDER: z._default(z.enum(["development", "oidc"]), "development"),
    OIDC_ISSUER: z.optional(
      urlString.check(
        z.refine((value) => new URL(value).protocol === "https:" || isLoopbackHost(new URL(value).hostname), {
          message: "must use https unless the host is loopback",
        }),
      ),
    ),
    OIDC_CLIENT_ID: z.optional(z.string().check(z.minLength(1))),
    OIDC_CLIENT_SECRET: z.optional(z.string().check(z.minLength(1))),
    OIDC_SCOPES: z._default(z.array(z.string()).check(z.refine((scopes) => scopes.includes("openid"), { message: 'must include "openid"' })), [
      "openid",
      "profile",
      "email",
    ]),
    OIDC_ALLOWED_EMAIL_DOMAINS: z._default(z.array(z.string().check(z.minLength(1))), []),
    OIDC_ALLOWED_SUBJECTS: z._default(z.array(z.string().check(z.minLength(1))), []),
    OIDC_ID_TOKEN_ALGORITHMS: z._default(
      z.array(z.enum(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"])).check(z.minLength(1)),
      ["RS256", "ES256"],
    ),
    SIGNING_KEYS: z.optional(
      z.string().check(
        z.refine(signingKeysValid, {
          message: 'must be a JSON array of private EC P-256 JWKs ({"kty":"EC","crv":"P-256","x","y","d"}), newest first',
        }),
      ),
    ),
    MCP_UPSTREAM_URL: z.optional(urlString),
    MCP_ALLOWED_ORIGINS: z._default(z.array(z.string()), ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"]),
    MCP_REQUIRED_SCOPES: z._default(z.array(z.string()), []),
    INTROSPECTION_CLIENT_IDS: z._default(z.array(z.string()), []),
  })
  .check(
    z.refine((config) => !(config.CORS_ALLOW_CREDENTIALS && config.CORS_ALLOWED_ORIGINS.includes("*")), {
      message: 'must not be true while "CORS_ALLOWED_ORIGINS" contains "*"',
      path: ["CORS_ALLOW_CREDENTIALS"],
    }),
    z.refine(
      (config) => config.DEFAULT_SCOPE === undefined || config.DEFAULT_SCOPE.split(" ").every((scope) => config.SCOPES_SUPPORTED.includes(scope)),
      { message: 'must list only scopes from "SCOPES_SUPPORTED"', path: ["DEFAULT_SCOPE"] },
    ),
    z.refine((config) => config.IDENTITY_PROVIDER !== "development" || loopbackIssuer(config.ISSUER), {
      message: 'is "development", which signs in anyone by name and is allowed only with a loopback "ISSUER"',
      path: ["IDENTITY_PROVIDER"],
    }),
    z.refine((config) => config.IDENTITY_PROVIDER !== "oidc" || config.OIDC_ISSUER !== undefined, {
      message: 'is required when "IDENTITY_PROVIDER" is "oidc"',
      path: ["OIDC_ISSUER"],
    }),
    z.refine((config) => config.IDENTITY_PROVIDER !== "oidc" || config.OIDC_CLIENT_ID !== undefined, {
      message: 'is required when "IDENTITY_PROVIDER" is "oidc"',
      path: ["OIDC_CLIENT_ID"],
    }),
    z.refine((config) => config.IDENTITY_PROVIDER !== "oidc" || config.OIDC_CLIENT_SECRET !== undefined, {
      message: 'is required when "IDENTITY_PROVIDER" is "oidc": set it with `wrangler secret put OIDC_CLIENT_SECRET`',
      path: ["OIDC_CLIENT_SECRET"],
    }),
    z.refine((config) => config.SIGNING_KEYS !== undefined || loopbackIssuer(config.ISSUER), {
      message: 'is required when "ISSUER" is not loopback: set it with `wrangler secret put SIGNING_KEYS`',
      path: ["SIGNING_KEYS"],
    }),
  );

type ParsedConfig = z.infer<typeof configSchema>;

/** Server configuration, validated once per isolate from the Worker's variables and secrets. */
export interface Config extends Omit<ParsedConfig, "DEFAULT_SCOPE" | "RESOURCES"> {
  DEFAULT_SCOPE: string;
  RESOURCES: string[];
  /** `true` when the issuer is a loopback URL, which enables the development conveniences. */
  isLoopback: boolean;
}

/** Invalid Worker configuration; the message names the variable and what is wrong with it. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const parsed = new WeakMap<object, Config>();

/**
 * Variables whose values are arrays, numbers or booleans. `wrangler dev --var` and `.dev.vars`
 * can only pass strings, so a string value of these is read as JSON first.
 */
const JSON_VARIABLES = [
  "SCOPES_SUPPORTED",
  "RESOURCES",
  "ACCESS_TOKEN_TTL",
  "REFRESH_TOKEN_TTL",
  "REFRESH_TOKEN_GRACE_PERIOD",
  "AUTHORIZATION_CODE_TTL",
  "CLIENT_SECRET_TTL",
  "SESSION_TTL",
  "CORS_ALLOWED_ORIGINS",
  "CORS_ALLOW_CREDENTIALS",
  "MAX_REQUEST_BYTES",
  "MAX_REDIRECT_URIS",
  "OIDC_SCOPES",
  "OIDC_ALLOWED_EMAIL_DOMAINS",
  "OIDC_ALLOWED_SUBJECTS",
  "OIDC_ID_TOKEN_ALGORITHMS",
  "MCP_ALLOWED_ORIGINS",
  "MCP_REQUIRED_SCOPES",
  "INTROSPECTION_CLIENT_IDS",
];

function decodeJsonStrings(env: Record<string, unknown>): Record<string, unknown> {
  const decoded: Record<string, unknown> = {};
  for (const name of JSON_VARIABLES) {
    const value = env[name];
    if (typeof value !== "string") continue;
    try {
      decoded[name] = JSON.parse(value);
    } catch {
      // Left as a string, so the schema reports the variable with what it expected.
    }
  }
  return { ...env, ...decoded };
}

/**
 * Parses and validates the configuration from the Worker's environment, once per `env` object.
 * @throws {ConfigError} naming the first invalid variable
 */
export function loadConfig(env: Record<string, unknown>): Config {
  const cached = parsed.get(env);
  if (cached) return cached;

  const result = configSchema.safeParse(decodeJsonStrings(env));
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `"${issue.path.join(".") || "configuration"}" ${issue.message}`);
    throw new ConfigError(`Invalid Worker configuration: ${problems.join("; ")}`);
  }

  const config: Config = {
    ...result.data,
    DEFAULT_SCOPE: result.data.DEFAULT_SCOPE ?? result.data.SCOPES_SUPPORTED.join(" "),
    RESOURCES: result.data.RESOURCES ?? [`${result.data.ISSUER}/mcp`],
    isLoopback: isLoopbackHost(new URL(result.data.ISSUER).hostname),
  };
  parsed.set(env, config);
  return config;
}
