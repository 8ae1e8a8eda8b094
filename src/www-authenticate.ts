/**
 * Formats a `WWW-Authenticate` challenge, escaping `"` and `\` inside the quoted values
 * (RFC 9110 §11.2 quoted-string) and dropping control characters.
 */
export function challenge(scheme: string, params: Record<string, string | undefined>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    const escaped = value.replace(/[\x00-\x1f\x7f]/g, "").replace(/["\\]/g, "\\$&");
    parts.push(`${name}="${escaped}"`);
  }
  return parts.length ? `${scheme} ${parts.join(", ")}` : scheme;
}
