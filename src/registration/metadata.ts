import * as z from "zod/mini";
import type { Config } from "../config.js";
import { OAuthError } from "../errors.js";
import { checkRedirectUri } from "../redirect-uri.js";

export const AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"] as const;
export const GRANT_TYPES = ["authorization_code", "refresh_token"] as const;

export type TokenEndpointAuthMethod = (typeof AUTH_METHODS)[number];
export type GrantType = (typeof GRANT_TYPES)[number];

/** Client metadata as registered, with every default filled in (RFC 7591 §2). */
export interface ClientMetadata {
  redirect_uris: string[];
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  grant_types: GrantType[];
  response_types: "code"[];
  scope: string;
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  tos_uri?: string;
  policy_uri?: string;
  contacts?: string[];
  software_id?: string;
  software_version?: string;
}

const MAX_STRING = 2000;

const text = z
  .string({ error: "must be a string" })
  .check(z.minLength(1, "must not be empty"), z.maxLength(MAX_STRING, `must be at most ${MAX_STRING} characters`));

const httpsUrl = text.check(
  z.refine((value) => URL.canParse(value) && new URL(value).protocol === "https:", { message: "must be an https URL" }),
);

const redirectUri = z.string({ error: "must be a string" }).check(
  z.maxLength(MAX_STRING, `must be at most ${MAX_STRING} characters`),
  z.superRefine((value, context) => {
    const problem = checkRedirectUri(value);
    if (problem) context.issues.push({ code: "custom", message: problem, input: value });
  }),
);

function uniqueValues(values: readonly string[]): boolean {
  return new Set(values).size === values.length;
}

function buildSchema(config: Config) {
  const supportedScopes = new Set(config.SCOPES_SUPPORTED);

  return z
    .object({
      redirect_uris: z
        .array(redirectUri, { error: "is required and must be an array of URIs" })
        .check(
          z.minLength(1, "must contain at least one URI"),
          z.maxLength(config.MAX_REDIRECT_URIS, `must contain at most ${config.MAX_REDIRECT_URIS} URIs`),
        ),
      token_endpoint_auth_method: z.optional(
        z.enum(AUTH_METHODS, { error: `must be one of ${AUTH_METHODS.join(", ")}` }),
      ),
      grant_types: z.optional(
        z
          .array(z.enum(GRANT_TYPES, { error: `must be ${GRANT_TYPES.join(" or ")}` }), {
            error: "must be an array of grant types",
          })
          .check(
            z.refine((values) => values.includes("authorization_code"), {
              message: 'must include "authorization_code", the only grant that issues tokens to a new client',
            }),
            z.refine(uniqueValues, { message: "must not repeat a value" }),
          ),
      ),
      response_types: z.optional(
        z
          .array(z.literal("code", { error: 'must be "code"' }), { error: "must be an array of response types" })
          .check(z.minLength(1, 'must contain "code"'), z.refine(uniqueValues, { message: "must not repeat a value" })),
      ),
      scope: z.optional(
        text.check(
          z.refine((value) => value.split(" ").every((scope) => supportedScopes.has(scope)), {
            message: `must contain only supported scopes, separated by single spaces: ${config.SCOPES_SUPPORTED.join(" ")}`,
          }),
        ),
      ),
      client_name: z.optional(text),
      client_uri: z.optional(httpsUrl),
      logo_uri: z.optional(httpsUrl),
      tos_uri: z.optional(httpsUrl),
      policy_uri: z.optional(httpsUrl),
      contacts: z.optional(
        z.array(text, { error: "must be an array of strings" }).check(z.maxLength(20, "must contain at most 20 entries")),
      ),
      software_id: z.optional(text),
      software_version: z.optional(text),
    })
    .check(
      // RFC 7591 §2.1: grant_types and response_types must be consistent. The only response type,
      // "code", goes with the authorization_code grant, which every client must have.
      z.refine((metadata) => metadata.response_types === undefined || metadata.grant_types === undefined || metadata.grant_types.includes("authorization_code"), {
        message: 'is inconsistent with "grant_types"',
        path: ["response_types"],
      }),
    );
}

const schemas = new WeakMap<Config, ReturnType<typeof buildSchema>>();

function formatPath(path: readonly PropertyKey[]): string {
  let formatted = "";
  for (const key of path) {
    if (typeof key === "number") formatted += `[${key}]`;
    else formatted += formatted === "" ? String(key) : `.${String(key)}`;
  }
  return formatted;
}

/**
 * Validates client metadata from a registration or update request and fills in the defaults
 * of RFC 7591 §2. Unknown fields are ignored, as §2 requires, and `null` counts as absent.
 * @throws {OAuthError} `invalid_redirect_uri` for a bad redirect URI, else `invalid_client_metadata`
 */
export function parseClientMetadata(config: Config, body: Record<string, unknown>): ClientMetadata {
  let schema = schemas.get(config);
  if (!schema) {
    schema = buildSchema(config);
    schemas.set(config, schema);
  }

  const present = Object.fromEntries(Object.entries(body).filter(([, value]) => value !== null));
  const result = schema.safeParse(present);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = formatPath(issue.path);
    const code = issue.path[0] === "redirect_uris" && issue.path.length > 1 ? "invalid_redirect_uri" : "invalid_client_metadata";
    throw new OAuthError(code, `"${field}" ${issue.message}`);
  }

  const { token_endpoint_auth_method, grant_types, response_types, scope, ...rest } = result.data;
  return {
    ...rest,
    // RFC 7591 §2: the default method is client_secret_basic and the default grant authorization_code.
    token_endpoint_auth_method: token_endpoint_auth_method ?? "client_secret_basic",
    grant_types: grant_types ?? ["authorization_code"],
    response_types: response_types ?? ["code"],
    scope: scope ?? config.DEFAULT_SCOPE,
  };
}
