/** RFC 6266 / RFC 8187: an ASCII fallback plus the exact UTF-8 name. */
export function contentDisposition(name: string, type: 'inline' | 'attachment' = 'inline'): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/** Strong ETag from the content hash: equal bytes, equal tag, across processes and restarts. */
export function strongEtag(sha256: string): string {
  return `"${sha256}"`;
}

/** Does an If-None-Match / If-Match header list match this ETag? */
export function etagMatches(header: string | undefined, etag: string, weak = true): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === etag || (weak && tag === `W/${etag}`);
  });
}
