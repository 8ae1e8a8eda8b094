import { randomBytes } from "node:crypto";
import type {
  OAuthClientMetadata,
  OAuthClientProvider,
  OAuthDiscoveryState,
  StoredOAuthClientInformation,
  StoredOAuthTokens,
} from "@modelcontextprotocol/client";

/**
 * Takes the authorization URL to a user agent and returns the URL the authorization server
 * redirected back to, query included.
 */
export type UserAgent = (authorizationUrl: URL) => Promise<URL>;

export interface MemoryOAuthProviderOptions {
  /** The loopback redirect URI that the client registers and sends. */
  redirectUrl: string;
  clientName: string;
  userAgent: UserAgent;
}

/**
 * An `OAuthClientProvider` that stores everything in memory, where a desktop MCP client would
 * use its own store. It contains no OAuth logic: the SDK discovers, registers, builds the
 * authorization request, redeems the code and refreshes. It records what the SDK saved so tests
 * can check it. It implements the v2 interface, which the v1 SDK also accepts.
 */
export class MemoryOAuthProvider implements OAuthClientProvider {
  /** Every authorization URL the SDK sent the user to, in order. */
  readonly authorizationUrls: URL[] = [];
  /** Every token response the SDK saved, in order. The last one is current. */
  readonly savedTokens: StoredOAuthTokens[] = [];
  /** The `state` of the latest authorization request. */
  lastState: string | undefined;

  private client: StoredOAuthClientInformation | undefined;
  private verifier: string | undefined;
  private discovery: OAuthDiscoveryState | undefined;
  private pendingCallback: Promise<URL> | undefined;

  constructor(private readonly options: MemoryOAuthProviderOptions) {}

  get redirectUrl(): string {
    return this.options.redirectUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.options.clientName,
      redirect_uris: [this.options.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }

  /** The registered client, once the SDK saved it. */
  get clientInformationSaved(): StoredOAuthClientInformation | undefined {
    return this.client;
  }

  state(): string {
    this.lastState = randomBytes(16).toString("base64url");
    return this.lastState;
  }

  clientInformation(): StoredOAuthClientInformation | undefined {
    return this.client;
  }

  saveClientInformation(clientInformation: StoredOAuthClientInformation): void {
    this.client = clientInformation;
  }

  tokens(): StoredOAuthTokens | undefined {
    return this.savedTokens.at(-1);
  }

  saveTokens(tokens: StoredOAuthTokens): void {
    this.savedTokens.push(tokens);
  }

  redirectToAuthorization(authorizationUrl: URL): void {
    this.authorizationUrls.push(authorizationUrl);
    const callback = this.options.userAgent(authorizationUrl);
    // The SDK throws UnauthorizedError before the test awaits the callback, so a failed sign-in
    // would be reported as an unhandled rejection in the meantime without this handler.
    callback.catch(() => {});
    this.pendingCallback = callback;
  }

  saveCodeVerifier(codeVerifier: string): void {
    this.verifier = codeVerifier;
  }

  codeVerifier(): string {
    if (!this.verifier) {
      throw new Error("No PKCE code verifier was saved before the authorization code arrived. Start authorization first.");
    }
    return this.verifier;
  }

  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.discovery = state;
  }

  discoveryState(): OAuthDiscoveryState | undefined {
    return this.discovery;
  }

  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): void {
    if (scope === "all" || scope === "client") this.client = undefined;
    if (scope === "all" || scope === "tokens") this.savedTokens.length = 0;
    if (scope === "all" || scope === "verifier") this.verifier = undefined;
    if (scope === "all" || scope === "discovery") this.discovery = undefined;
  }

  /** Waits for the user agent to come back from the latest authorization request. */
  async authorizationResponse(): Promise<URL> {
    if (!this.pendingCallback) throw new Error("The SDK has not sent the user to the authorization endpoint. Connect first.");
    const callback = await this.pendingCallback;
    this.pendingCallback = undefined;
    return callback;
  }
}
