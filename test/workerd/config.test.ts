import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config.js";
import { appWithConfig, checkBody, readJson } from "./helpers.js";

/** Sends one discovery request to an app built with `vars`, and returns what it threw, if anything. */
async function errorFromConfig(vars: Record<string, unknown>): Promise<unknown> {
  try {
    const response = await appWithConfig(vars)("/.well-known/oauth-authorization-server");
    await checkBody(response);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("Worker configuration", () => {
  it("accepts the wrangler.toml configuration", async () => {
    const response = await appWithConfig({})("/.well-known/oauth-authorization-server");

    expect(response.status).toBe(200);
    await readJson(response);
  });

  it.each([
    ["an ISSUER that is not a URL", { ISSUER: "not a url" }, '"ISSUER" must be an absolute URL'],
    ["an http ISSUER on a public host", { ISSUER: "http://auth.example.com" }, '"ISSUER" must use https unless the host is loopback'],
    ["an ISSUER with a trailing slash", { ISSUER: "http://127.0.0.1:8787/" }, '"ISSUER" must not end with a slash'],
    ["an ISSUER with a query", { ISSUER: "http://127.0.0.1:8787?tenant=a" }, '"ISSUER" must not contain a query or fragment'],
    [
      "credentials with a wildcard origin",
      { CORS_ALLOW_CREDENTIALS: true, CORS_ALLOWED_ORIGINS: ["*"] },
      '"CORS_ALLOW_CREDENTIALS" must not be true while "CORS_ALLOWED_ORIGINS" contains "*"',
    ],
    [
      "a DEFAULT_SCOPE outside SCOPES_SUPPORTED",
      { DEFAULT_SCOPE: "mcp admin" },
      '"DEFAULT_SCOPE" must list only scopes from "SCOPES_SUPPORTED"',
    ],
    [
      "the development identity provider on a public issuer",
      { ISSUER: "https://auth.example.com", IDENTITY_PROVIDER: "development" },
      '"IDENTITY_PROVIDER" is "development", which signs in anyone by name and is allowed only with a loopback "ISSUER"',
    ],
    [
      "a public issuer without SIGNING_KEYS",
      { ISSUER: "https://auth.example.com" },
      '"SIGNING_KEYS" is required when "ISSUER" is not loopback: set it with `wrangler secret put SIGNING_KEYS`',
    ],
  ])("rejects %s", async (_name, vars, problem) => {
    const error = await errorFromConfig(vars);

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(problem);
  });

  // The Worker validates its configuration when it starts, so a bad key should stop it there
  // instead of failing the first request that signs a token or publishes the JWKS.
  it("rejects SIGNING_KEYS that are not JSON", async () => {
    const error = await errorFromConfig({ SIGNING_KEYS: "not json" });

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('"SIGNING_KEYS"');
  });
});

describe("configuration from strings", () => {
  it("reads JSON strings of array and number variables", async () => {
    const response = await appWithConfig({ SCOPES_SUPPORTED: '["mcp","mcp:admin"]', ACCESS_TOKEN_TTL: "600" })(
      "/.well-known/oauth-authorization-server",
    );
    const metadata = await readJson<{ scopes_supported: string[] }>(response);

    expect(response.status).toBe(200);
    expect(metadata.scopes_supported).toEqual(["mcp", "mcp:admin"]);
  });

  it("names a variable whose string is not JSON", async () => {
    const error = await errorFromConfig({ SCOPES_SUPPORTED: "mcp mcp:admin" });

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('"SCOPES_SUPPORTED"');
  });
});
