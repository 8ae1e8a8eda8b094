/** One request a client sent and the status it got back. */
export interface LoggedExchange {
  method: string;
  url: URL;
  status: number;
  /** `grant_type` of a form body, for token requests. */
  grantType?: string;
  /** The request's Authorization header, if it had one. */
  authorization?: string;
}

/** A `fetch` that passes every request through and records it. */
export interface FetchLog {
  fetch: (input: string | URL, init?: RequestInit) => Promise<Response>;
  exchanges: LoggedExchange[];
}

function grantTypeOf(body: RequestInit["body"]): string | undefined {
  if (body instanceof URLSearchParams) return body.get("grant_type") ?? undefined;
  if (typeof body === "string" && body.includes("grant_type=")) return new URLSearchParams(body).get("grant_type") ?? undefined;
  return undefined;
}

/**
 * Builds a `fetch` for an MCP client's `fetch` option. It passes each request on unchanged and
 * records it, so a test can see which requests the SDK made and in what order.
 */
export function loggingFetch(): FetchLog {
  const exchanges: LoggedExchange[] = [];
  return {
    exchanges,
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      const exchange: LoggedExchange = {
        method: init?.method ?? "GET",
        url: new URL(input),
        status: response.status,
      };
      const grantType = grantTypeOf(init?.body);
      if (grantType) exchange.grantType = grantType;
      const authorization = new Headers(init?.headers).get("Authorization");
      if (authorization) exchange.authorization = authorization;
      exchanges.push(exchange);
      return response;
    },
  };
}
