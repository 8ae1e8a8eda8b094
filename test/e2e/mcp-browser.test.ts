import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/client";
import { decodeJwt } from "jose";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { collectConsoleErrors, launchBrowser } from "./helpers/browser.js";
import { type BrowserClientSteps, browserClientPages, type PageExchange } from "./helpers/mcp-browser-client.js";
import { type SignInResult, signInOnPage } from "./helpers/mcp-user.js";
import { type PageServer, servePages } from "./helpers/page-server.js";

const CLIENT_NAME = "Browser MCP client";

/** An exchange the page could read, with its status and headers. */
type ReadableExchange = Required<Pick<PageExchange, "status" | "body" | "messages" | "headers">>;

describe("browser-based MCP client on another origin", () => {
  const issuer = inject("baseUrl");
  const mcpUrl = `${issuer}/mcp`;

  let browser: Browser;
  let pages: PageServer;
  let consoleErrors: string[];
  let signIn: SignInResult;
  let steps: BrowserClientSteps;

  beforeAll(async () => {
    browser = await launchBrowser();
    pages = await servePages(browserClientPages({ mcpUrl, clientName: CLIENT_NAME, protocolVersion: LATEST_PROTOCOL_VERSION }));

    const page = await browser.newPage();
    consoleErrors = collectConsoleErrors(page);
    await page.goto(`${pages.origin}/`);
    await page.waitForURL((url) => url.href.startsWith(`${issuer}/authorize`), { timeout: 10_000 }).catch((error: Error) => {
      throw new Error(`The start page did not go to the authorization endpoint: ${error.message}\n${consoleErrors.join("\n")}`);
    });
    signIn = await signInOnPage(page, "alice", `${pages.origin}/callback`);
    steps = await page.evaluate(() => (window as unknown as { steps: Promise<BrowserClientSteps> }).steps);
  });

  afterAll(async () => {
    await browser?.close();
    await pages?.close();
  });

  /** Asserts that the page could read the response, showing the console errors if not. */
  function readable(name: string, exchange: PageExchange): ReadableExchange {
    expect(exchange.error, `${name}: ${exchange.error}\n${consoleErrors.join("\n")}`).toBeUndefined();
    expect(exchange.status, `${name}: no status`).toBeTypeOf("number");
    return exchange as ReadableExchange;
  }

  /** Finds the JSON-RPC response with `id` among the messages of an MCP exchange. */
  function response(name: string, exchange: PageExchange, id: number): Record<string, unknown> {
    const found = readable(name, exchange).messages.find((message) => message.id === id);
    expect(found, `${name}: no JSON-RPC response with id ${id} in ${JSON.stringify(exchange.messages)}`).toBeDefined();
    return found!;
  }

  it("runs on another origin", () => {
    expect(new URL(pages.origin).origin).not.toBe(new URL(issuer).origin);
    expect(new URL(pages.origin).hostname).toBe("localhost");
  });

  describe("discovery and registration", () => {
    it("reads the 401 challenge from /mcp", () => {
      const unauthorized = readable("unauthorized", steps.start.unauthorized);

      expect(unauthorized.status).toBe(401);
      expect(unauthorized.headers["www-authenticate"]).toBe(
        `Bearer resource_metadata="${issuer}/.well-known/oauth-protected-resource/mcp"`,
      );
      expect(unauthorized.body).toEqual({ error: "invalid_token", error_description: "An access token is required." });
    });

    it("reads protected resource metadata", () => {
      const metadata = readable("resourceMetadata", steps.start.resourceMetadata);

      expect(metadata.status).toBe(200);
      expect(metadata.body).toMatchObject({ resource: mcpUrl, authorization_servers: [issuer], scopes_supported: ["mcp"] });
    });

    it("reads authorization server metadata", () => {
      const metadata = readable("serverMetadata", steps.start.serverMetadata);

      expect(metadata.status).toBe(200);
      expect(metadata.body).toMatchObject({ issuer, token_endpoint: `${issuer}/token`, code_challenge_methods_supported: ["S256"] });
    });

    it("registers a public client", () => {
      const registration = readable("registration", steps.start.registration);

      expect(registration.status).toBe(201);
      expect(registration.body).toMatchObject({
        client_name: CLIENT_NAME,
        redirect_uris: [`${pages.origin}/callback`],
        token_endpoint_auth_method: "none",
      });
    });
  });

  describe("authorization", () => {
    it("sends PKCE, state and resource", () => {
      const params = new URL(steps.start.authorizationUrl).searchParams;

      expect(params.get("code_challenge_method")).toBe("S256");
      expect(params.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(params.get("state")).toBeTruthy();
      expect(params.get("resource")).toBe(mcpUrl);
    });

    it("shows alice the consent page", () => {
      expect(signIn.consentText).toContain(`Allow ${CLIENT_NAME} to access your account?`);
      expect(signIn.consentText).toContain("Signed in as alice");
      // A localhost redirect URI is a loopback one, so the page warns that a local program gets the code.
      expect(signIn.consentText).toContain(`The code goes to ${new URL(pages.origin).host}, a program on this computer.`);
    });

    it("returns state and iss to the callback", () => {
      expect(steps.stateMatches).toBe(true);
      expect(steps.iss).toBe(issuer);
    });

    it("reads the token response", () => {
      const token = readable("token", steps.token);

      expect(token.status).toBe(200);
      expect(token.body).toMatchObject({ token_type: "Bearer", scope: "mcp", expires_in: 3600 });
      expect((token.body as Record<string, unknown>).refresh_token).toBeTypeOf("string");
    });
  });

  describe("MCP over Streamable HTTP", () => {
    it("reads the initialize result", () => {
      const initialize = readable("initialize", steps.initialize);
      const result = response("initialize", steps.initialize, 1).result as Record<string, unknown>;

      expect(initialize.status).toBe(200);
      // The demo server turns JSON responses off, so it sends an event stream, which the page parses.
      expect(initialize.headers["content-type"]).toMatch(/^text\/event-stream\b/);
      expect(result.protocolVersion).toBe(LATEST_PROTOCOL_VERSION);
      expect(result.serverInfo).toMatchObject({ name: "mcp-demo-server" });
      // The demo server is stateless, so it sends no session id.
      expect(initialize.headers["mcp-session-id"]).toBeNull();
    });

    it("gets 202 for the initialized notification", () => {
      expect(readable("initialized", steps.initialized).status).toBe(202);
    });

    it("lists the whoami tool", () => {
      const result = response("toolsList", steps.toolsList, 2).result as { tools: { name: string }[] };

      expect(readable("toolsList", steps.toolsList).status).toBe(200);
      expect(result.tools.map((tool) => tool.name)).toContain("whoami");
    });

    it("calls whoami as alice", () => {
      const result = response("whoami", steps.whoami, 3).result as { structuredContent: Record<string, unknown> };
      const token = steps.token.body as { access_token: string };

      expect(readable("whoami", steps.whoami).status).toBe(200);
      expect(result.structuredContent).toEqual({
        subject: decodeJwt(token.access_token).sub,
        client_id: (steps.start.registration.body as { client_id: string }).client_id,
        scope: "mcp",
        name: "alice",
      });
    });

    it("refreshes and calls whoami again", () => {
      const refresh = readable("refresh", steps.refresh);
      const result = response("whoamiAfterRefresh", steps.whoamiAfterRefresh, 4).result as { structuredContent: Record<string, unknown> };

      expect(refresh.status).toBe(200);
      expect((refresh.body as Record<string, unknown>).access_token).not.toBe((steps.token.body as Record<string, unknown>).access_token);
      expect(readable("whoamiAfterRefresh", steps.whoamiAfterRefresh).status).toBe(200);
      expect(result.structuredContent.name).toBe("alice");
    });
  });
});
