import sax from 'sax';
import { Problems } from '../common/problem';

/** A namespace-resolved XML element: what WebDAV bodies are made of. */
export interface XmlElement {
  ns: string;
  local: string;
  attributes: { ns: string; local: string; value: string }[];
  children: XmlNode[];
}
export type XmlNode = XmlElement | string;

export const DAV = 'DAV:';
/** Request bodies are small documents; anything larger is refused before it is read whole. */
export const MAX_XML_BYTES = 1024 * 1024;
const MAX_DEPTH = 64;
const MAX_ELEMENTS = 100_000;
/**
 * What XML 1.0's Char production (§2.2) leaves out: C0 controls but tab, LF and CR, U+FFFE, U+FFFF and halves
 * of surrogate pairs. A document holding one is not well-formed, written out or as a character reference
 * (sax resolves `&#0;` without complaint), and PostgreSQL cannot store a NUL in text.
 */
const isHighSurrogate = (unit: number) => unit >= 0xd800 && unit <= 0xdbff;
const isLowSurrogate = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff;
/** C0 controls but tab, LF and CR. */
const isControl = (unit: number) => unit <= 0x08 || unit === 0x0b || unit === 0x0c || (unit >= 0x0e && unit <= 0x1f);

/** The first UTF-16 code unit of `value` that is not (part of) an XML character, or -1. */
function firstNonXmlUnit(value: string): number {
  for (let index = 0; index < value.length; index++) {
    const unit = value.charCodeAt(index);
    if (isControl(unit) || unit === 0xfffe || unit === 0xffff) return unit;
    if (isHighSurrogate(unit) && !(index + 1 < value.length && isLowSurrogate(value.charCodeAt(index + 1)))) return unit;
    if (isLowSurrogate(unit) && !(index > 0 && isHighSurrogate(value.charCodeAt(index - 1)))) return unit;
  }
  return -1;
}

function badCharacter(value: string): string | undefined {
  const unit = firstNonXmlUnit(value);
  return unit >= 0 ? `U+${unit.toString(16).toUpperCase().padStart(4, '0')} is not an XML character` : undefined;
}

export function isElement(node: XmlNode): node is XmlElement {
  return typeof node !== 'string';
}

export function elements(parent: XmlElement): XmlElement[] {
  return parent.children.filter(isElement);
}

export function child(parent: XmlElement, ns: string, local: string): XmlElement | undefined {
  return elements(parent).find((element) => element.ns === ns && element.local === local);
}

export function textOf(element: XmlElement): string {
  return element.children.map((node) => (isElement(node) ? textOf(node) : node)).join('');
}

/**
 * Parses a request body strictly (sax, strict mode, namespaces resolved): malformed XML, undeclared prefixes,
 * DOCTYPE declarations (no entity expansion, no bombs), excessive nesting or size are a 400 that says where.
 */
export function parseXml(body: Buffer): XmlElement {
  if (body.length > MAX_XML_BYTES) throw Problems.tooLarge(`the XML body is larger than ${MAX_XML_BYTES} bytes`, { limit: MAX_XML_BYTES });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body);
  } catch {
    throw Problems.badRequest('the XML body is not valid UTF-8');
  }
  const literal = badCharacter(text);
  if (literal) throw Problems.badRequest(`the XML body is malformed: ${literal}`);
  const parser = sax.parser(true, { xmlns: true, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let count = 0;
  let failure: string | undefined;
  // the first problem stops the parse at once (sax's namespace scopes make very deep documents quadratic)
  const fail = (message: string): never => {
    failure ??= `${message} (line ${parser.line + 1}, column ${parser.column + 1})`;
    throw new Error(failure);
  };
  parser.onerror = (error) => fail(error.message.split('\n')[0]);
  parser.ondoctype = () => fail('DOCTYPE declarations are not accepted');
  parser.onopentag = (tag) => {
    const node = tag as sax.QualifiedTag;
    if (++count > MAX_ELEMENTS) fail('too many elements');
    if (stack.length >= MAX_DEPTH) fail(`elements nested deeper than ${MAX_DEPTH}`);
    if (node.prefix && !node.uri) fail(`the prefix "${node.prefix}" is not declared`);
    for (const attribute of Object.values(node.attributes)) {
      const bad = badCharacter(attribute.value);
      if (bad) fail(`${bad} (attribute ${attribute.name})`);
    }
    const element: XmlElement = {
      ns: node.uri ?? '',
      local: node.local,
      attributes: Object.values(node.attributes)
        .filter((attribute) => attribute.prefix !== 'xmlns' && attribute.name !== 'xmlns')
        .map((attribute) => ({ ns: attribute.uri ?? '', local: attribute.local, value: attribute.value })),
      children: [],
    };
    if (stack.length) stack[stack.length - 1].children.push(element);
    else if (root) fail('more than one root element');
    else root = element;
    stack.push(element);
  };
  parser.onclosetag = () => {
    stack.pop();
  };
  const onText = (value: string) => {
    const bad = badCharacter(value);
    if (bad) fail(bad);
    if (stack.length) stack[stack.length - 1].children.push(value);
    else if (value.trim()) fail('text outside the root element');
  };
  parser.ontext = onText;
  parser.oncdata = onText;
  try {
    parser.write(text).close();
  } catch (error) {
    failure ??= (error as Error).message.split('\n')[0];
  }
  if (failure) throw Problems.badRequest(`the XML body is malformed: ${failure}`);
  if (!root) throw Problems.badRequest('the XML body has no root element');
  return root;
}

export function escapeXml(value: string): string {
  return withoutControls(value.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!));
}

/** `value` without the C0 controls XML cannot carry (tab, LF and CR stay). */
function withoutControls(value: string): string {
  let out = '';
  let start = 0;
  for (let index = 0; index < value.length; index++) {
    if (!isControl(value.charCodeAt(index))) continue;
    out += value.slice(start, index);
    start = index + 1;
  }
  return start === 0 ? value : out + value.slice(start);
}

/**
 * Serialises an element with its namespaces declared on itself (so it can be stored and replayed anywhere,
 * a dead property value inside a multistatus among them).
 */
export function serializeXml(node: XmlNode, declared: Map<string, string> = new Map([[DAV, 'D']])): string {
  if (!isElement(node)) return escapeXml(node);
  const scope = new Map(declared);
  const declarations: string[] = [];
  const prefixOf = (ns: string): string => {
    if (!ns) return '';
    let prefix = scope.get(ns);
    if (!prefix) {
      prefix = `n${scope.size}`;
      scope.set(ns, prefix);
      declarations.push(` xmlns:${prefix}="${escapeXml(ns)}"`);
    }
    return `${prefix}:`;
  };
  // An element in no namespace must not inherit a default namespace: we never declare one, so it cannot.
  const name = `${prefixOf(node.ns)}${node.local}`;
  const attributes = node.attributes.map((attribute) => ` ${prefixOf(attribute.ns)}${attribute.local}="${escapeXml(attribute.value)}"`).join('');
  const inner = node.children.map((childNode) => serializeXml(childNode, scope)).join('');
  return `<${name}${declarations.join('')}${attributes}>${inner}</${name}>`;
}

/** Clark notation, the key of a property: `{namespace}local`. */
export function clark(ns: string, local: string): string {
  return `{${ns}}${local}`;
}

export function fromClark(name: string): { ns: string; local: string } {
  const close = name.indexOf('}');
  return { ns: name.slice(1, close), local: name.slice(close + 1) };
}
