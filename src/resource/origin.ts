/**
 * Matches an Origin header against an allow-list. An entry is an exact origin, `*` for any, or an
 * origin whose port is `*` (`http://localhost:*`), which matches that scheme and host on any port.
 */
export function originAllowed(allowed: readonly string[], origin: string): boolean {
  if (allowed.includes("*") || allowed.includes(origin)) return true;
  if (!URL.canParse(origin)) return false;
  const url = new URL(origin);
  return allowed.some((entry) => entry.endsWith(":*") && entry.slice(0, -2) === `${url.protocol}//${url.hostname}`);
}
