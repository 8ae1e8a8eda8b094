import { readFileSync } from "node:fs";

type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Client metadata as a registration request sends it (RFC 7591 §2). */
export interface ClientMetadataBody {
  redirect_uris: string[];
  token_endpoint_auth_method?: string;
  grant_types?: string[];
  response_types?: string[];
  client_name?: string;
  client_uri?: string;
  [field: string]: JsonValue | undefined;
}

/** One registration request shaped like those a known kind of MCP client sends. */
export interface RegistrationCase {
  name: string;
  why: string;
  body: ClientMetadataBody;
  /** A redirect URI the authorization request uses in place of a registered one, when it differs. */
  authorize_with_redirect_uri?: string;
}

/** Reads the registration cases from test/fixtures/registrations.json, a fresh copy on each call. */
export function loadRegistrationCases(): RegistrationCase[] {
  const text = readFileSync(new URL("../../fixtures/registrations.json", import.meta.url), "utf8");
  return (JSON.parse(text) as { cases: RegistrationCase[] }).cases;
}

/** Returns the registration case called `name`, or throws if there is none. */
export function registrationCase(name: string): RegistrationCase {
  const found = loadRegistrationCases().find((candidate) => candidate.name === name);
  if (!found) throw new Error(`No registration case named "${name}" in test/fixtures/registrations.json`);
  return found;
}
