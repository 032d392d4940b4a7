/** `CORS_ORIGINS` read: `*` (any origin) or a list of origins, each `scheme://host[:port]`. Throws naming a bad entry. */
export function parseCorsOrigins(spec: string | undefined): { any: boolean; origins: string[] } {
  const entries = (spec ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.includes('*')) {
    if (entries.length > 1) throw new Error('"*" (any origin) cannot be listed with other origins');
    return { any: true, origins: [] };
  }
  for (const entry of entries) {
    let url: URL | undefined;
    try {
      url = new URL(entry);
    } catch {
      url = undefined;
    }
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.origin !== entry)
      throw new Error(`"${entry}" is not an origin: write scheme://host[:port], lower case, without a path or a trailing slash`);
  }
  return { any: false, origins: [...new Set(entries)] };
}
