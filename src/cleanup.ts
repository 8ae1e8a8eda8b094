/**
 * Deletes rows that can no longer be used: expired sessions, upstream transactions and code
 * redemptions, and grants whose last refresh token expired, with their refresh tokens. Runs from
 * the Worker's cron trigger, so storage does not grow with every flow ever completed.
 */
export async function deleteExpiredRows(db: D1Database, now: number): Promise<number> {
  const results = await db.batch([
    db.prepare("DELETE FROM sessions WHERE expires_at <= ?").bind(now),
    db.prepare("DELETE FROM upstream_transactions WHERE expires_at <= ?").bind(now),
    // A redemption row must outlive its code, so a replay is still caught while KV may hold the code.
    db.prepare("DELETE FROM code_redemptions WHERE expires_at <= ?").bind(now - 3600),
    db.prepare("DELETE FROM refresh_tokens WHERE expires_at <= ?").bind(now),
    db.prepare("DELETE FROM grants WHERE expires_at <= ? AND id NOT IN (SELECT grant_id FROM refresh_tokens)").bind(now),
  ]);
  return results.reduce((total, result) => total + result.meta.changes, 0);
}
