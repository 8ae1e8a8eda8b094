import { createScheduledController, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.js";

const NOW = 1_900_000_000;

async function count(table: string, column: string, value: string): Promise<number> {
  const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = ?`).bind(value).first<{ n: number }>();
  return row!.n;
}

describe("expired row cleanup", () => {
  it("deletes expired rows and keeps live ones", async () => {
    await env.DB.batch([
      env.DB.prepare("INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES ('old-session', 'u', 't', 0, ?)").bind(NOW - 1),
      env.DB.prepare("INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES ('live-session', 'u', 't', 0, ?)").bind(NOW + 1),
      env.DB.prepare("INSERT INTO grants (id, client_id, user_id, scope, resource, created_at, expires_at) VALUES ('old-grant', 'c', 'u', 'mcp', 'r', 0, ?)").bind(NOW - 1),
      env.DB.prepare("INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES ('old-token', 'old-grant', 0, ?)").bind(NOW - 1),
      env.DB.prepare("INSERT INTO grants (id, client_id, user_id, scope, resource, created_at, expires_at) VALUES ('live-grant', 'c', 'u', 'mcp', 'r', 0, ?)").bind(NOW + 1),
      env.DB.prepare("INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES ('live-token', 'live-grant', 0, ?)").bind(NOW + 1),
      env.DB.prepare("INSERT INTO code_redemptions (code_hash, grant_id, redeemed_at, expires_at) VALUES ('old-code', 'g', 0, ?)").bind(NOW - 7200),
      env.DB.prepare("INSERT INTO code_redemptions (code_hash, grant_id, redeemed_at, expires_at) VALUES ('recent-code', 'g', 0, ?)").bind(NOW - 60),
    ]);

    await worker.scheduled(createScheduledController({ scheduledTime: NOW * 1000 }), env);

    expect(await count("sessions", "id_hash", "old-session")).toBe(0);
    expect(await count("sessions", "id_hash", "live-session")).toBe(1);
    expect(await count("grants", "id", "old-grant")).toBe(0);
    expect(await count("refresh_tokens", "token_hash", "old-token")).toBe(0);
    expect(await count("grants", "id", "live-grant")).toBe(1);
    expect(await count("refresh_tokens", "token_hash", "live-token")).toBe(1);
    expect(await count("code_redemptions", "code_hash", "old-code")).toBe(0);
    expect(await count("code_redemptions", "code_hash", "recent-code")).toBe(1);
  });
});
