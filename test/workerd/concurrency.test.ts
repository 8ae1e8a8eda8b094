import { describe, expect, it } from "vitest";
import {
  authorize,
  exchangeCode,
  expectOAuthError,
  INVALID_GRANT,
  issueTokens,
  publicClientBody,
  readTokenResponse,
  refreshTokens,
  registerClient,
  startServer,
} from "./flow-helpers.js";

/** Counts responses by HTTP status. */
function countStatuses(responses: Response[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const response of responses) counts[response.status] = (counts[response.status] ?? 0) + 1;
  return counts;
}

/** Counts responses with a 5xx status. */
function countServerErrors(responses: Response[]): number {
  return responses.filter((response) => response.status >= 500).length;
}

describe("RFC 6749 §4.1.2 single use of a code under concurrency", () => {
  it("redeems a code once among 50 parallel requests", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    const responses = await Promise.all(Array.from({ length: 50 }, () => exchangeCode(server, client, authorization)));

    expect(countServerErrors(responses)).toBe(0);
    expect(countStatuses(responses)).toEqual({ 200: 1, 400: 49 });
    for (const response of responses.filter((candidate) => candidate.status === 400)) {
      await expectOAuthError(response, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
    }
  });

  it("revokes the winner's grant after parallel replays", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const authorization = await authorize(server, client);

    const responses = await Promise.all(Array.from({ length: 50 }, () => exchangeCode(server, client, authorization)));
    const winner = responses.find((response) => response.status === 200);
    expect(winner).toBeDefined();
    const tokens = await readTokenResponse(winner!);

    const refresh = await refreshTokens(server, client, tokens.refresh_token!);
    await expectOAuthError(refresh, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });
});

describe("refresh token rotation under concurrency", () => {
  it("serves 20 parallel refreshes inside the window", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const issued = await issueTokens(server, client);

    const responses = await Promise.all(Array.from({ length: 20 }, () => refreshTokens(server, client, issued.refresh_token!)));

    expect(countServerErrors(responses)).toBe(0);
    expect(countStatuses(responses)).toEqual({ 200: 20 });
    const refreshTokensIssued = await Promise.all(responses.map(async (response) => (await readTokenResponse(response)).refresh_token));
    expect(new Set(refreshTokensIssued).size).toBe(20);
  });

  it("revokes the whole family after the window", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const issued = await issueTokens(server, client);
    const responses = await Promise.all(Array.from({ length: 20 }, () => refreshTokens(server, client, issued.refresh_token!)));
    const children = await Promise.all(responses.map(async (response) => (await readTokenResponse(response)).refresh_token!));

    server.advance(61);
    const reuse = await refreshTokens(server, client, issued.refresh_token!);
    await expectOAuthError(reuse, { status: 400, error: "invalid_grant", description: INVALID_GRANT });

    const childResponses = await Promise.all(children.map((child) => refreshTokens(server, client, child)));
    expect(countStatuses(childResponses)).toEqual({ 400: 20 });
  });

  it("rejects 20 parallel reuses after the window", async () => {
    const server = startServer();
    const client = await registerClient(server, publicClientBody());
    const issued = await issueTokens(server, client);
    const newest = await readTokenResponse(await refreshTokens(server, client, issued.refresh_token!));

    server.advance(61);
    const responses = await Promise.all(Array.from({ length: 20 }, () => refreshTokens(server, client, issued.refresh_token!)));

    expect(countServerErrors(responses)).toBe(0);
    expect(countStatuses(responses)).toEqual({ 400: 20 });
    const newestRefresh = await refreshTokens(server, client, newest.refresh_token!);
    await expectOAuthError(newestRefresh, { status: 400, error: "invalid_grant", description: INVALID_GRANT });
  });
});
