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

/**
 * Types a browser would run as a document on our origin (script in HTML, SVG, XML): a tenant's upload must never
 * execute where people's session cookies live. They are served as attachments; everything else inline.
 */
const ACTIVE_TYPES =
  /^(text\/html|application\/xhtml\+xml|image\/svg\+xml|text\/xml|application\/xml|[a-z]+\/[a-z0-9.+-]*\+xml|text\/javascript|application\/javascript|application\/ecmascript|text\/xsl)\b/i;

export function isActiveContent(mimetype: string): boolean {
  return ACTIVE_TYPES.test(mimetype.trim());
}

/**
 * The sandbox every stored byte is served in: were a browser ever to render it as a page, it is an opaque origin
 * with no script, so it cannot reach the session or the API (media and images still load in the console).
 */
export const CONTENT_SECURITY_POLICY = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'";
