import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { collectConsoleErrors, launchBrowser } from "./helpers/browser.js";
import { registrationCase } from "./helpers/fixtures.js";
import { type PageServer, servePages } from "./helpers/page-server.js";

/** What the page script could read of one cross-origin response, or the error `fetch` rejected with. */
interface Exchange {
  status?: number;
  body?: Record<string, unknown> | null;
  headers?: { "content-type": string | null; "cache-control": string | null; "www-authenticate": string | null };
  error?: string;
}

/** An exchange whose response the page could read, with a JSON object body. */
interface ReadableExchange {
  status: number;
  body: Record<string, unknown>;
  headers: NonNullable<Exchange["headers"]>;
}

type Exchanges = Record<
  "discovery" | "jwks" | "registration" | "rejectedRegistration" | "clientRead" | "wrongTokenRead" | "authorize",
  Exchange
>;

interface PageInput {
  issuer: string;
  validBody: unknown;
  invalidBody: unknown;
}

/**
 * Builds a page whose inline script sends each request with `fetch` from its own origin to the
 * issuer's, and stores what it could read in `window.exchanges`. A response that CORS hides makes
 * `fetch` reject with a TypeError, which the script records as `error`.
 */
function crossOriginPage(input: PageInput): string {
  const inputJson = JSON.stringify(input).replace(/</g, "\\u003c");
  return `<!doctype html>
<meta charset="utf-8">
<title>Cross-origin OAuth client</title>
<script>
const input = ${inputJson};

async function exchange(path, init) {
  try {
    const response = await fetch(input.issuer + path, init);
    const text = await response.text();
    let body = null;
    try { body = JSON.parse(text); } catch {}
    return {
      status: response.status,
      body,
      headers: {
        "content-type": response.headers.get("Content-Type"),
        "cache-control": response.headers.get("Cache-Control"),
        "www-authenticate": response.headers.get("WWW-Authenticate"),
      },
    };
  } catch (error) {
    return { error: String(error) };
  }
}

function postJson(body) {
  return { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
}

window.exchanges = (async () => {
  const discovery = await exchange("/.well-known/oauth-authorization-server", {
    headers: { "MCP-Protocol-Version": "2025-11-25" },
  });
  const jwks = await exchange("/.well-known/jwks.json");
  const registration = await exchange("/register", postJson(input.validBody));
  const rejectedRegistration = await exchange("/register", postJson(input.invalidBody));

  const client = registration.body || {};
  const clientRead = await exchange("/register/" + client.client_id, {
    headers: { Authorization: "Bearer " + client.registration_access_token },
  });
  const wrongTokenRead = await exchange("/register/" + client.client_id, {
    headers: { Authorization: "Bearer not-the-registration-access-token" },
  });
  const authorize = await exchange("/authorize");

  return { discovery, jwks, registration, rejectedRegistration, clientRead, wrongTokenRead, authorize };
})();
</script>
`;
}

describe("CORS for browser-based clients", () => {
  const issuer = inject("baseUrl");
  const validBody = registrationCase("browser inspector on localhost").body;
  const invalidBody = { ...validBody, redirect_uris: ["javascript:alert(1)"] };

  let browser: Browser;
  let pages: PageServer;
  let pageOrigin: string;
  let consoleErrors: string[];
  let exchanges: Exchanges;

  beforeAll(async () => {
    pages = await servePages({ "/": crossOriginPage({ issuer, validBody, invalidBody }) });
    pageOrigin = pages.origin;
    browser = await launchBrowser();

    const page = await browser.newPage();
    consoleErrors = collectConsoleErrors(page);
    await page.goto(`${pages.origin}/`);
    exchanges = await page.evaluate(() => (window as unknown as { exchanges: Promise<Exchanges> }).exchanges);
  });

  afterAll(async () => {
    await browser?.close();
    await pages?.close();
  });

  /** Asserts that the browser let the page read the response, showing console errors if not. */
  function readable(name: keyof Exchanges): ReadableExchange {
    const result = exchanges[name];
    expect(result.error, `${name}: ${result.error}\n${consoleErrors.join("\n")}`).toBeUndefined();
    expect(result.body, `${name}: the response body is not JSON`).toBeTypeOf("object");
    return result as ReadableExchange;
  }

  it("serves the page from another origin", () => {
    expect(new URL(pageOrigin).origin).not.toBe(new URL(issuer).origin);
    expect(new URL(pageOrigin).hostname).toBe("localhost");
  });

  describe("RFC 8414 authorization server metadata", () => {
    it("reads metadata with MCP-Protocol-Version", () => {
      const discovery = readable("discovery");
      expect(discovery.status).toBe(200);
      expect(discovery.body.issuer).toBe(issuer);
      expect(discovery.body.registration_endpoint).toBe(`${issuer}/register`);
      expect(discovery.headers["content-type"]).toMatch(/^application\/json\b/);
      expect(discovery.headers["cache-control"]).toMatch(/max-age=\d+/);
    });

    it("reads the JWKS", () => {
      const jwks = readable("jwks");
      expect(jwks.status).toBe(200);
      expect(jwks.body.keys).toBeInstanceOf(Array);
      expect(jwks.headers["content-type"]).toMatch(/^application\/json\b/);
    });
  });

  describe("RFC 7591 dynamic client registration", () => {
    it("reads a 201 with client_id", () => {
      const registration = readable("registration");
      expect(registration.status).toBe(201);
      expect(registration.body.client_id).toBeTypeOf("string");
      expect(registration.body.redirect_uris).toEqual(validBody.redirect_uris);
      expect(registration.body).not.toHaveProperty("client_secret");
      expect(registration.headers["content-type"]).toMatch(/^application\/json\b/);
      expect(registration.headers["cache-control"]).toBe("no-store");
    });

    it("reads a 400 for a javascript: redirect URI", () => {
      const rejected = readable("rejectedRegistration");
      expect(rejected.status).toBe(400);
      expect(rejected.body.error).toBe("invalid_redirect_uri");
      expect(rejected.body.error_description).toBe('"redirect_uris[0]" must not use the javascript: scheme');
      expect(rejected.headers["content-type"]).toMatch(/^application\/json\b/);
      expect(rejected.headers["cache-control"]).toBe("no-store");
      expect(rejected.headers["www-authenticate"]).toBeNull();
    });
  });

  describe("RFC 7592 client configuration endpoint", () => {
    it("reads the client with its token", () => {
      const clientRead = readable("clientRead");
      expect(clientRead.status).toBe(200);
      expect(clientRead.body.client_id).toBe(exchanges.registration.body?.client_id);
      expect(clientRead.headers["cache-control"]).toBe("no-store");
    });

    it("reads the challenge for a wrong token", () => {
      const wrongTokenRead = readable("wrongTokenRead");
      expect(wrongTokenRead.status).toBe(401);
      expect(wrongTokenRead.body.error).toBe("invalid_token");
      expect(wrongTokenRead.body.error_description).toBe("The registration access token is invalid for this client.");
      expect(wrongTokenRead.headers["www-authenticate"]).toMatch(/^Bearer error="invalid_token"/);
      expect(wrongTokenRead.headers["cache-control"]).toBe("no-store");
    });
  });

  describe("authorization endpoint", () => {
    // The endpoint serves top-level navigations that carry the user's session, so it sends no
    // CORS headers. This also shows that a response CORS hides makes fetch reject here.
    it("hides /authorize from cross-origin reads", () => {
      expect(exchanges.authorize.error).toMatch(/^TypeError/);
      expect(exchanges.authorize.status).toBeUndefined();
    });
  });
});
