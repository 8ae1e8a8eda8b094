import { randomBytes } from "node:crypto";
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import { type Account, Provider } from "oidc-provider";

/** Profile claims of an upstream account, whose login is its `sub`. */
export interface UpstreamProfile {
  name: string;
  email: string;
}

export interface UpstreamProviderOptions {
  clientId: string;
  clientSecret: string;
  /** Accounts by login. The development login form accepts any login and password; unknown logins get no profile claims. */
  profiles: Record<string, UpstreamProfile>;
}

export interface UpstreamClientSettings {
  /** The Worker's `<ISSUER>/oidc/callback`, registered as the client's only redirect URI. */
  redirectUri: string;
  /**
   * Where the profile and email claims go. "userinfo" keeps oidc-provider's default,
   * `conformIdTokenClaims: true`, so for `response_type=code` the ID token carries only `sub`
   * and the claims are at the userinfo endpoint, as OpenID Connect Core §5.4 describes.
   * "id_token" puts them in the ID token as well, as many hosted providers do.
   */
  claimsIn: "id_token" | "userinfo";
}

/** panva's `oidc-provider` on 127.0.0.1 with its development login and consent pages. */
export interface UpstreamProvider {
  /** The issuer identifier, `http://127.0.0.1:<port>`, without a trailing slash. */
  issuer: string;
  /**
   * Builds a provider with one confidential client and serves it from now on. Calling it again
   * replaces the provider but keeps the issuer and signing key, so the Worker's cached discovery
   * document and JWKS stay valid.
   */
  configure(settings: UpstreamClientSettings): void;
  /** How many authorization codes the token endpoint exchanged. */
  readonly tokenExchanges: number;
  /** Errors the provider emitted, such as a rejected token request, for failure messages. */
  errors: string[];
  close(): Promise<void>;
}

/**
 * Starts the HTTP server first, so the issuer URL is known before the Worker starts, and serves
 * 503 until `configure` supplies the redirect URI, which depends on the Worker's port.
 * oidc-provider accepts the plain http issuer and the http redirect URI as they are: it requires
 * https only for web clients that use the implicit flow.
 */
export async function startUpstreamProvider(options: UpstreamProviderOptions): Promise<UpstreamProvider> {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: "upstream-key-1", alg: "RS256", use: "sig" };
  const cookieKey = randomBytes(32).toString("base64url");
  let handler: RequestListener | undefined;
  let tokenExchanges = 0;

  const server = createServer((request, response) => {
    if (handler) return handler(request, response);
    response.writeHead(503, { "Content-Type": "text/plain" }).end("The upstream provider is not configured yet.");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function findAccount(_context: unknown, sub: string): Account {
    const profile = Object.hasOwn(options.profiles, sub) ? options.profiles[sub] : undefined;
    return {
      accountId: sub,
      claims: () => (profile ? { sub, name: profile.name, email: profile.email, email_verified: true } : { sub }),
    };
  }

  const upstream: UpstreamProvider = {
    issuer,
    errors: [],
    get tokenExchanges() {
      return tokenExchanges;
    },
    configure(settings) {
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: options.clientId,
            client_secret: options.clientSecret,
            redirect_uris: [settings.redirectUri],
            grant_types: ["authorization_code"],
            response_types: ["code"],
            token_endpoint_auth_method: "client_secret_basic",
          },
        ],
        jwks: { keys: [signingKey] },
        cookies: { keys: [cookieKey] },
        claims: { openid: ["sub"], profile: ["name"], email: ["email", "email_verified"] },
        conformIdTokenClaims: settings.claimsIn === "userinfo",
        pkce: { required: () => true },
        // Lifetimes in seconds, set because oidc-provider prints a notice for each default it uses.
        ttl: { AccessToken: 600, Grant: 3600, IdToken: 600, Interaction: 600, Session: 3600 },
        features: { devInteractions: { enabled: true } },
        findAccount,
      });
      provider.on("grant.success", () => {
        tokenExchanges += 1;
      });
      for (const event of ["server_error", "grant.error", "authorization.error"]) {
        provider.on(event, (_context, error) => upstream.errors.push(`${event}: ${String(error)}`));
      }
      handler = provider.callback();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
  return upstream;
}
