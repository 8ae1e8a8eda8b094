/**
 * Error codes this server returns: RFC 6749 §4.1.2.1 and §5.2, RFC 7591 §3.2.2, RFC 6750 §3.1,
 * RFC 8707 §2, and two HTTP-level codes for unknown paths and methods.
 */
export type ErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "unsupported_token_type"
  | "invalid_scope"
  | "invalid_target"
  | "access_denied"
  | "temporarily_unavailable"
  | "invalid_client_metadata"
  | "invalid_redirect_uri"
  | "invalid_token"
  | "insufficient_scope"
  | "not_found"
  | "method_not_allowed"
  | "server_error";

const DEFAULT_STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  unsupported_response_type: 400,
  unsupported_token_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  access_denied: 403,
  temporarily_unavailable: 503,
  invalid_client_metadata: 400,
  invalid_redirect_uri: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  not_found: 404,
  method_not_allowed: 405,
  server_error: 500,
};

export interface OAuthErrorOptions {
  /** HTTP status; defaults to the usual status for the code. */
  status?: number;
  /** Extra response headers, such as `WWW-Authenticate` or `Allow`. */
  headers?: Record<string, string>;
  /** Detail for the log only; it never reaches the response. */
  cause?: unknown;
}

/**
 * The one error type of this server: an RFC error code, an HTTP status, a public
 * `error_description`, and a private cause that only the log receives.
 */
export class OAuthError extends Error {
  override name = "OAuthError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly description: string;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, description: string, options: OAuthErrorOptions = {}) {
    super(description, { cause: options.cause });
    this.code = code;
    this.description = description;
    this.status = options.status ?? DEFAULT_STATUS[code];
    this.headers = options.headers ?? {};
  }

  /** Returns the JSON body of RFC 6749 §5.2. */
  toJSON(): { error: ErrorCode; error_description: string } {
    return { error: this.code, error_description: this.description };
  }
}

/** Wraps anything that is not an `OAuthError` as a generic `server_error`, keeping it as the cause. */
export function toOAuthError(error: unknown): OAuthError {
  if (error instanceof OAuthError) return error;
  return new OAuthError("server_error", "The server encountered an unexpected error.", { cause: error });
}
