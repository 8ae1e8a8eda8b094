import { createExecutionContext, env, SELF } from "cloudflare:test";
import { expect } from "vitest";
import { createApp } from "../../src/app.js";

/** The issuer that wrangler.toml configures, and the origin of every request sent to the Worker. */
export const ISSUER = "http://127.0.0.1:8787";

/** Origin of a browser MCP client on another port, as the MCP Inspector runs. */
export const CLIENT_ORIGIN = "http://localhost:6274";

/** Clock of the apps built by `appWithConfig`, in whole seconds since the epoch. */
export const NOW = 1_800_000_000;

/** Client information response of RFC 7591 §3.2.1 with the RFC 7592 §3 additions. */
export interface ClientInformation {
  client_id: string;
  client_id_issued_at: number;
  client_secret?: string;
  client_secret_expires_at?: number;
  registration_access_token: string;
  registration_client_uri: string;
  redirect_uris: string[];
  token_endpoint_auth_method: string;
  grant_types: string[];
  response_types: string[];
  scope: string;
  [field: string]: unknown;
}

/** A function that sends one request to a Worker and returns its response. */
export type Send = (path: string, init?: RequestInit) => Promise<Response>;

function withOrigin(init: RequestInit): RequestInit {
  const headers = new Headers(init.headers);
  if (!headers.has("Origin")) headers.set("Origin", CLIENT_ORIGIN);
  return { ...init, headers };
}

/** Sends a request to the Worker under test, from `CLIENT_ORIGIN` unless `init` sets another Origin. */
export const send: Send = (path, init = {}) => SELF.fetch(new URL(path, ISSUER), withOrigin(init));

/**
 * Builds an app with the test's clock and the wrangler.toml bindings overridden by `vars`, and
 * returns a function that sends requests to it. Configuration is parsed once per returned function.
 */
export function appWithConfig(vars: Record<string, unknown>): Send {
  const app = createApp({ now: () => NOW });
  const appEnv = { ...env, ...vars };
  // An invalid ISSUER must reach the app, which is what the configuration tests check.
  const base = typeof vars.ISSUER === "string" && URL.canParse(vars.ISSUER) ? new URL(vars.ISSUER).origin : ISSUER;
  return async (path, init = {}) =>
    app.fetch(new Request(new URL(path, base), withOrigin(init)), appEnv, createExecutionContext());
}

/** Sends `body` as JSON with `method` (POST unless given) through `sender`. */
export function sendJson(sender: Send, path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("Content-Type", "application/json");
  return sender(path, { method: "POST", ...init, headers, body: JSON.stringify(body) });
}

/** Lists the JSON path of every `null` and empty string inside `value`. */
export function findEmptyValues(value: unknown, path = "$"): string[] {
  if (value === null || value === "") return [path];
  if (Array.isArray(value)) return value.flatMap((item, index) => findEmptyValues(item, `${path}[${index}]`));
  if (typeof value === "object") {
    return Object.entries(value).flatMap(([key, item]) => findEmptyValues(item, `${path}.${key}`));
  }
  return [];
}

/**
 * Reads a JSON response body and checks that it contains no `null` and no empty string anywhere,
 * because this server omits a field rather than send it empty.
 */
export async function readJson<T = Record<string, unknown>>(response: Response): Promise<T> {
  expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
  const body: unknown = await response.json();
  expect(findEmptyValues(body), "null or empty string in the response body").toEqual([]);
  return body as T;
}

/**
 * Reads a response body of any type to its end, so the request finishes, and applies the checks
 * of `readJson` when the body is JSON.
 */
export async function checkBody(response: Response): Promise<void> {
  if (/^application\/json/.test(response.headers.get("Content-Type") ?? "")) {
    await readJson(response);
  } else {
    await response.arrayBuffer();
  }
}

export interface ExpectedError {
  status: number;
  error: string;
  description: string;
  /** Expected `Access-Control-Allow-Origin`; `"*"` unless given. */
  allowOrigin?: string;
}

/**
 * Checks an error response of RFC 6749 §5.2: the status, the error code, the exact description,
 * `Cache-Control: no-store` and the CORS header that lets a browser client read it.
 */
export async function expectOAuthError(response: Response, expected: ExpectedError): Promise<void> {
  expect(response.status).toBe(expected.status);
  expect(response.headers.get("Access-Control-Allow-Origin")).toBe(expected.allowOrigin ?? "*");
  expect(response.headers.get("Cache-Control")).toBe("no-store");

  const body = await readJson(response);
  expect(body.error).toBe(expected.error);
  expect(body.error_description).toBe(expected.description);
}

/** Registers a client through `sender` and returns its client information, checking the 201. */
export async function registerClient(body: Record<string, unknown>, sender: Send = send): Promise<ClientInformation> {
  const response = await sendJson(sender, "/register", body);
  expect(response.status).toBe(201);
  return readJson<ClientInformation>(response);
}

/** Returns `{ Authorization: "Bearer <token>" }`. */
export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}
