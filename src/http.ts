import type { AppContext } from "./context.js";
import { OAuthError } from "./errors.js";

/** Headers of every response that carries a token, a credential or an error (RFC 6749 §5.1). */
export const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" } as const;

function mediaType(c: AppContext): string {
  return (c.req.header("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase();
}

/** Reads a JSON object body, rejecting another content type, malformed JSON and non-objects. */
export async function readJsonObject(c: AppContext): Promise<Record<string, unknown>> {
  if (mediaType(c) !== "application/json") {
    throw new OAuthError("invalid_request", 'The request body must be JSON with "Content-Type: application/json".');
  }

  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch (cause) {
    throw new OAuthError("invalid_request", "The request body is not valid JSON.", { cause });
  }

  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new OAuthError("invalid_request", "The request body must be a JSON object.");
  }
  return body as Record<string, unknown>;
}

/**
 * Reads an `application/x-www-form-urlencoded` body into single values. RFC 6749 §3.2: "Request and
 * response parameters MUST NOT be included more than once", so a repeated parameter is rejected.
 */
export async function readForm(c: AppContext): Promise<Map<string, string>> {
  if (mediaType(c) !== "application/x-www-form-urlencoded") {
    throw new OAuthError(
      "invalid_request",
      'The request body must use "Content-Type: application/x-www-form-urlencoded".',
    );
  }
  // Decoded by hand: workerd warns when text() reads a body whose type is not text/*.
  const body = new TextDecoder().decode(await c.req.arrayBuffer());
  return singleValues(new URLSearchParams(body));
}

/**
 * Converts query or form parameters to a map, rejecting any parameter given more than once.
 * RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted".
 */
export function singleValues(params: URLSearchParams): Map<string, string> {
  const seen = new Set<string>();
  const values = new Map<string, string>();
  for (const [name, value] of params) {
    if (seen.has(name)) throw new OAuthError("invalid_request", `"${name}" must not be repeated.`);
    seen.add(name);
    if (value !== "") values.set(name, value);
  }
  return values;
}
