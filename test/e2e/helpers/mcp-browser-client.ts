/**
 * Pages of a browser-based MCP client that works the way MCP Inspector does, with cross-origin
 * `fetch` from its own origin. The start page discovers the authorization server, registers and
 * sends the user to authorize with PKCE. The callback page redeems the code and calls the MCP
 * server. Each step stores what the page could read of the response.
 */

/** What the page could read of one response, or the error `fetch` rejected with. */
export interface PageExchange {
  status?: number;
  body?: unknown;
  /** JSON-RPC messages of an `application/json` or `text/event-stream` response, in order. */
  messages?: Record<string, unknown>[];
  headers?: {
    "content-type": string | null;
    "www-authenticate": string | null;
    "mcp-session-id": string | null;
  };
  error?: string;
}

/** Steps of the start page, which then navigates to the authorization endpoint. */
export interface StartSteps {
  unauthorized: PageExchange;
  resourceMetadata: PageExchange;
  serverMetadata: PageExchange;
  registration: PageExchange;
  authorizationUrl: string;
}

/** Steps of both pages, as the callback page returns them. */
export interface BrowserClientSteps {
  start: StartSteps;
  stateMatches: boolean;
  iss: string | null;
  token: PageExchange;
  initialize: PageExchange;
  initialized: PageExchange;
  toolsList: PageExchange;
  whoami: PageExchange;
  refresh: PageExchange;
  whoamiAfterRefresh: PageExchange;
}

export interface BrowserClientInput {
  /** URL of the MCP server, `<issuer>/mcp`. */
  mcpUrl: string;
  clientName: string;
  /** The MCP-Protocol-Version header sent after initialization. */
  protocolVersion: string;
}

const SHARED_SCRIPT = `
async function exchange(url, init) {
  try {
    const response = await fetch(url, init);
    const text = await response.text();
    const contentType = response.headers.get("Content-Type");
    let body = null;
    try { body = JSON.parse(text); } catch {}
    let messages = [];
    if (contentType && contentType.startsWith("text/event-stream")) {
      for (const event of text.split(/\\r?\\n\\r?\\n/)) {
        const data = event.split(/\\r?\\n/).filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trim()).join("\\n");
        if (data) messages.push(JSON.parse(data));
      }
    } else if (body !== null) {
      messages = Array.isArray(body) ? body : [body];
    }
    return {
      status: response.status,
      body,
      messages,
      headers: {
        "content-type": contentType,
        "www-authenticate": response.headers.get("WWW-Authenticate"),
        "mcp-session-id": response.headers.get("Mcp-Session-Id"),
      },
    };
  } catch (error) {
    return { error: String(error) };
  }
}

function base64url(bytes) {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
}

function randomString() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}
`;

function pageHtml(title: string, input: BrowserClientInput, script: string): string {
  const inputJson = JSON.stringify(input).replace(/</g, "\\u003c");
  return `<!doctype html>
<meta charset="utf-8">
<title>${title}</title>
<script>
const input = ${inputJson};
${SHARED_SCRIPT}
${script}
</script>
`;
}

const START_SCRIPT = `
(async () => {
  const initialize = {
    jsonrpc: "2.0", id: 1, method: "initialize",
    params: { protocolVersion: input.protocolVersion, capabilities: {}, clientInfo: { name: input.clientName, version: "1.0.0" } },
  };
  const unauthorized = await exchange(input.mcpUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify(initialize),
  });

  // RFC 9728 §5.1: the challenge names the protected resource metadata.
  const challenge = (unauthorized.headers && unauthorized.headers["www-authenticate"]) || "";
  const metadataUrl = (challenge.match(/resource_metadata="([^"]+)"/) || [])[1];
  const resourceMetadata = await exchange(metadataUrl);
  const resource = resourceMetadata.body || {};

  // RFC 8414 §3: the well-known path goes between the issuer's host and its path.
  const issuer = new URL(resource.authorization_servers[0]);
  const path = issuer.pathname === "/" ? "" : issuer.pathname;
  const serverMetadata = await exchange(issuer.origin + "/.well-known/oauth-authorization-server" + path);
  const server = serverMetadata.body || {};

  const redirectUri = location.origin + "/callback";
  const registration = await exchange(server.registration_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      client_name: input.clientName,
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    }),
  });
  const client = registration.body || {};

  const verifier = randomString();
  const challengeBytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  const state = randomString();
  const authorizationUrl = new URL(server.authorization_endpoint);
  authorizationUrl.search = new URLSearchParams({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: redirectUri,
    code_challenge: base64url(challengeBytes),
    code_challenge_method: "S256",
    state,
    scope: resource.scopes_supported.join(" "),
    resource: resource.resource,
  }).toString();

  const steps = { unauthorized, resourceMetadata, serverMetadata, registration, authorizationUrl: authorizationUrl.href };
  sessionStorage.setItem("flow", JSON.stringify({
    steps, verifier, state, redirectUri, resource: resource.resource,
    issuer: server.issuer, tokenEndpoint: server.token_endpoint, clientId: client.client_id,
  }));
  location.assign(authorizationUrl.href);
})().catch((error) => console.error("The start page failed: " + error));
`;

const CALLBACK_SCRIPT = `
window.steps = (async () => {
  const flow = JSON.parse(sessionStorage.getItem("flow"));
  const params = new URLSearchParams(location.search);
  let nextId = 1;

  function tokenRequest(fields) {
    return exchange(flow.tokenEndpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: flow.clientId, ...fields }),
    });
  }

  function mcp(accessToken, sessionId, message, initialized) {
    const headers = {
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      Authorization: "Bearer " + accessToken,
    };
    if (initialized) headers["MCP-Protocol-Version"] = input.protocolVersion;
    if (sessionId) headers["Mcp-Session-Id"] = sessionId;
    return exchange(input.mcpUrl, { method: "POST", headers, body: JSON.stringify(message) });
  }

  function request(method, params) {
    return { jsonrpc: "2.0", id: nextId++, method, params };
  }

  const token = await tokenRequest({
    grant_type: "authorization_code",
    code: params.get("code"),
    redirect_uri: flow.redirectUri,
    code_verifier: flow.verifier,
    resource: flow.resource,
  });
  const accessToken = token.body && token.body.access_token;

  const initialize = await mcp(accessToken, null, request("initialize", {
    protocolVersion: input.protocolVersion,
    capabilities: {},
    clientInfo: { name: input.clientName, version: "1.0.0" },
  }), false);
  const sessionId = initialize.headers && initialize.headers["mcp-session-id"];
  const initialized = await mcp(accessToken, sessionId, { jsonrpc: "2.0", method: "notifications/initialized" }, true);
  const toolsList = await mcp(accessToken, sessionId, request("tools/list", {}), true);
  const whoami = await mcp(accessToken, sessionId, request("tools/call", { name: "whoami", arguments: {} }), true);

  const refresh = await tokenRequest({ grant_type: "refresh_token", refresh_token: token.body && token.body.refresh_token });
  const refreshed = refresh.body && refresh.body.access_token;
  const whoamiAfterRefresh = await mcp(refreshed, sessionId, request("tools/call", { name: "whoami", arguments: {} }), true);

  return {
    start: flow.steps,
    stateMatches: params.get("state") === flow.state,
    iss: params.get("iss"),
    token, initialize, initialized, toolsList, whoami, refresh, whoamiAfterRefresh,
  };
})();
`;

/** Returns the start page at `/` and the callback page at `/callback`, for `servePages`. */
export function browserClientPages(input: BrowserClientInput): Record<string, string> {
  return {
    "/": pageHtml("Browser MCP client", input, START_SCRIPT),
    "/callback": pageHtml("Browser MCP client callback", input, CALLBACK_SCRIPT),
  };
}
