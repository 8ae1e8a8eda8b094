import { type Client, findClient } from "./clients.js";
import type { AppContext } from "./context.js";
import { matchesHash } from "./crypto.js";
import { OAuthError } from "./errors.js";
import { challenge } from "./www-authenticate.js";
import type { TokenEndpointAuthMethod } from "./registration/metadata.js";

interface PresentedCredentials {
  method: TokenEndpointAuthMethod;
  clientId: string;
  secret?: string;
}

function decodeBasic(header: string): { clientId: string; secret: string } | undefined {
  const encoded = header.match(/^Basic +([A-Za-z0-9+/]+=*)$/i)?.[1];
  if (!encoded) return undefined;
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(atob(encoded), (char) => char.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  // RFC 6749 §2.3.1: both halves are form-urlencoded before Basic encoding.
  try {
    const clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, " "));
    const secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, " "));
    return { clientId, secret };
  } catch {
    return undefined;
  }
}

function presentedCredentials(c: AppContext, form: Map<string, string>): PresentedCredentials {
  const header = c.req.header("Authorization");
  const bodyClientId = form.get("client_id");
  const bodySecret = form.get("client_secret");

  if (header !== undefined) {
    const basic = decodeBasic(header);
    if (!basic) {
      throw new OAuthError("invalid_client", "The Authorization header is not valid HTTP Basic client authentication.", {
        headers: { "WWW-Authenticate": challenge("Basic", { realm: c.var.config.ISSUER }) },
      });
    }
    // RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each request."
    if (bodySecret !== undefined) {
      throw new OAuthError("invalid_request", "Use one client authentication method: HTTP Basic or client_secret in the body, not both.");
    }
    if (bodyClientId !== undefined && bodyClientId !== basic.clientId) {
      throw new OAuthError("invalid_request", '"client_id" in the body differs from the client in the Authorization header.');
    }
    return { method: "client_secret_basic", clientId: basic.clientId, secret: basic.secret };
  }

  if (bodyClientId === undefined) throw new OAuthError("invalid_request", '"client_id" is missing, and no client authentication was sent.');
  if (bodySecret !== undefined) return { method: "client_secret_post", clientId: bodyClientId, secret: bodySecret };
  return { method: "none", clientId: bodyClientId };
}

/**
 * Authenticates the client of a token, revocation or introspection request with the method it
 * registered (RFC 6749 §2.3). Every failure reads the same on the wire; the reason goes to the log.
 * @throws {OAuthError} `invalid_client` (401, with a Basic challenge when Basic was used) or `invalid_request`
 */
export async function authenticateClient(c: AppContext, form: Map<string, string>): Promise<Client> {
  const presented = presentedCredentials(c, form);
  const fail = (cause: string) =>
    new OAuthError("invalid_client", "Client authentication failed.", {
      cause,
      headers:
        presented.method === "client_secret_basic"
          ? { "WWW-Authenticate": challenge("Basic", { realm: c.var.config.ISSUER }) }
          : {},
    });

  const client = await findClient(c.env.DB, presented.clientId);
  if (!client) throw fail(`unknown client_id ${presented.clientId}`);

  const registered = client.metadata.token_endpoint_auth_method;
  if (presented.method !== registered) throw fail(`client registered ${registered} but used ${presented.method}`);
  if (registered === "none") return client;

  if (!client.client_secret_hash || !(await matchesHash(presented.secret ?? "", client.client_secret_hash))) {
    throw fail("client secret mismatch");
  }
  if (client.client_secret_expires_at !== 0 && client.client_secret_expires_at <= c.var.now()) {
    throw fail("client secret expired");
  }
  return client;
}
