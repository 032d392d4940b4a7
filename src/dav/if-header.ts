import { Problems } from '../common/problem';

/** One condition of an If list: a state token (`<urn:...>`) or an entity tag (`["..."]`), possibly negated. */
export interface IfCondition {
  not: boolean;
  token?: string;
  etag?: string;
}

/** A list applies to the request's resource (untagged) or to the resource its tag names. */
export interface IfList {
  resource?: string;
  conditions: IfCondition[];
}

const MAX_IF_LENGTH = 16 * 1024;

/**
 * Parses the If header of RFC 4918 §10.4 (No-tag-list or Tagged-list productions). Anything that does not
 * follow the grammar is a 400 that says where it went wrong — never an exception escaping the request.
 */
export function parseIfHeader(header: string): IfList[] {
  if (header.length > MAX_IF_LENGTH) throw Problems.badRequest(`the If header is longer than ${MAX_IF_LENGTH} characters`);
  const lists: IfList[] = [];
  let position = 0;
  let tagged: boolean | undefined;
  let resource: string | undefined;
  const fail = (what: string): never => {
    throw Problems.badRequest(`the If header is malformed at character ${position + 1}: ${what}`);
  };
  // A header cut short inside its last list (some clients, litmus among them, truncate long If headers at a
  // fixed length) keeps the lists before it: dropping a list can only make the header harder to satisfy
  // (lists are alternatives) and submit fewer lock tokens, never more.
  const truncated = (what: string): never => {
    if (lists.length) throw new TruncatedIf();
    return fail(what);
  };
  const skipSpace = () => {
    while (position < header.length && /\s/.test(header[position])) position++;
  };
  const until = (close: string): string => {
    const end = header.indexOf(close, position + 1);
    if (end < 0) truncated(`missing "${close}"`);
    const value = header.slice(position + 1, end);
    position = end + 1;
    return value;
  };
  skipSpace();
  if (position >= header.length) fail('it is empty');
  try {
    parseLists();
  } catch (error) {
    if (!(error instanceof TruncatedIf)) throw error;
  }
  return lists;

  function parseLists(): void {
    while (position < header.length) {
      const c = header[position];
      if (c === '<') {
        if (tagged === false) fail('a resource tag after an untagged list');
        tagged = true;
        resource = until('>').trim();
        if (!resource) fail('an empty resource tag');
        skipSpace();
        if (header[position] !== '(') fail('a resource tag must be followed by a list');
      } else if (c === '(') {
        if (tagged === undefined) tagged = false;
        position++;
        const conditions: IfCondition[] = [];
        for (;;) {
          skipSpace();
          if (position >= header.length) truncated('missing ")"');
          if (header[position] === ')') {
            position++;
            break;
          }
          let not = false;
          if (/^not\b/i.test(header.slice(position, position + 4)) && /[\s<[]/.test(header[position + 3] ?? '')) {
            not = true;
            position += 3;
            skipSpace();
          }
          if (header[position] === '<') {
            const token = until('>').trim();
            if (!token || /[\s<>]/.test(token)) fail('a malformed state token');
            conditions.push({ not, token });
          } else if (header[position] === '[') {
            const etag = until(']').trim();
            if (!/^(W\/)?"[^"]*"$/.test(etag)) fail('a malformed entity tag');
            conditions.push({ not, etag });
          } else {
            fail('expected a state token <...>, an entity tag [...], "Not" or ")"');
          }
        }
        if (conditions.length === 0) fail('an empty list');
        lists.push({ resource: tagged ? resource : undefined, conditions });
      } else {
        fail(`unexpected "${c}"`);
      }
      skipSpace();
    }
  }
}

class TruncatedIf extends Error {}

/** Every state token the client named (submitted lock tokens, whatever the list's outcome). */
export function submittedTokens(lists: IfList[]): Set<string> {
  const tokens = new Set<string>();
  for (const list of lists) for (const condition of list.conditions) if (condition.token && !condition.not) tokens.add(condition.token);
  return tokens;
}
