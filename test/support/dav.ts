import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Client } from './client';
import { freePort } from './free-port';
import { eventually, startRole, waitForExit } from './processes';
import { newStorageEnv } from './test-storage';

/** What a WebDAV request answered: the status line, the headers, the body as bytes and as text. */
export interface DavReply {
  status: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface DavRequest {
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  /** false: a fresh connection (the default); an Agent: reuse its keep-alive connections. */
  agent?: Agent | false;
  /** Chunked transfer: the body is written in these pieces with no Content-Length. */
  chunks?: Buffer[];
  /** How long to wait for the whole answer before calling it "no answer" (the request is then reported, not hung on). */
  timeoutMs?: number;
}

/** `Authorization: Basic` with the capability key as the password; the user name is ignored by the server. */
export const basic = (key: string, user = 'x') => `Basic ${Buffer.from(`${user}:${key}`).toString('base64')}`;

/** A path under /dav/ from unencoded segments: `davPath('a b', 'été.txt')` → `/dav/a%20b/%C3%A9t%C3%A9.txt`. */
export const davPath = (...segments: string[]) => `/dav/${segments.map((segment) => encodeURIComponent(segment)).join('/')}`;

/**
 * One raw HTTP request to the api: `target` is sent byte for byte as the request-target (nothing normalises `..`
 * or `%2F`), so tests control exactly what the server sees.
 */
export function dav(baseUrl: string, key: string | undefined, method: string, target: string, options: DavRequest = {}): Promise<DavReply> {
  const url = new URL(baseUrl);
  const headers: Record<string, string | string[]> = { ...(options.headers ?? {}) };
  if (key !== undefined && !Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) headers.authorization = basic(key);
  if (options.chunks) headers['transfer-encoding'] = 'chunked';
  else if (options.body !== undefined && !Object.keys(headers).some((name) => name.toLowerCase() === 'content-length')) {
    headers['content-length'] = String(Buffer.byteLength(options.body));
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path: target, headers, agent: options.agent ?? false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        clearTimeout(timer);
        const body = Buffer.concat(parts);
        resolve({ status: res.statusCode!, statusMessage: res.statusMessage ?? '', headers: res.headers, body, text: body.toString('utf8') });
      });
    });
    const timer = setTimeout(
      () => req.destroy(new Error(`no answer to ${method} ${target.slice(0, 200)} within ${options.timeoutMs ?? 60_000} ms`)),
      options.timeoutMs ?? 60_000,
    );
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    if (options.chunks) {
      void (async () => {
        for (const chunk of options.chunks!) {
          if (!req.write(chunk)) await new Promise((done) => req.once('drain', done));
          await new Promise((done) => setImmediate(done));
        }
        req.end();
      })();
    } else req.end(options.body);
  });
}

const decodeXml = (value: string) =>
  value
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(parseInt(dec, 10)))
    .replace(/&amp;/g, '&');

/** One `<response>` of a multistatus: its href (as sent and decoded), and a way to read a property by local name. */
export interface DavEntry {
  href: string;
  /** The href's path, percent-decoded. */
  path: string;
  xml: string;
  isCollection: boolean;
  /** The text of the first property with this local name (any namespace prefix), XML-unescaped; undefined if absent. */
  prop(localName: string): string | undefined;
}

/** A tolerant multistatus reader (namespace prefixes vary between servers): enough to check hrefs and properties. */
export function parseMultistatus(xml: string): DavEntry[] {
  const responses = xml.split(/<(?:[\w.-]+:)?response(?=[\s>])[^>]*>/).slice(1);
  return responses.map((chunk) => {
    const body = chunk.split(/<\/(?:[\w.-]+:)?response>/)[0];
    const href = decodeXml((/<(?:[\w.-]+:)?href[^>]*>([^<]*)</.exec(body)?.[1] ?? '').trim());
    let path = href;
    try {
      path = decodeURIComponent(new URL(href, 'http://host').pathname);
    } catch {
      /* keep it as sent */
    }
    const prop = (localName: string) => {
      const match = new RegExp(`<(?:[\\w.-]+:)?${localName}(?=[\\s/>])[^>]*?(?:/>|>([\\s\\S]*?)</(?:[\\w.-]+:)?${localName}>)`).exec(body);
      return match ? decodeXml(match[1] ?? '') : undefined;
    };
    return { href, path, xml: body, isCollection: /<(?:[\w.-]+:)?collection\b/.test(prop('resourcetype') ?? ''), prop };
  });
}

/** The PROPFIND body asking for every live property. */
export const ALLPROP = '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>';

/** PROPFIND (allprop) and the parsed multistatus; throws with the answer when it is not a 207. */
export async function propfind(baseUrl: string, key: string, target: string, depth: '0' | '1' | 'infinity' = '1', agent?: Agent): Promise<DavEntry[]> {
  const reply = await dav(baseUrl, key, 'PROPFIND', target, { headers: { depth, 'content-type': 'application/xml; charset=utf-8' }, body: ALLPROP, agent });
  if (reply.status !== 207) throw new Error(`PROPFIND ${target}: ${reply.status} ${reply.text.slice(0, 500)}`);
  return parseMultistatus(reply.text);
}

/** A `<opaquelocktoken:...>`-style token from a LOCK answer (the Lock-Token header, or the body's locktoken href). */
export function lockTokenOf(reply: DavReply): string | undefined {
  const header = reply.headers['lock-token'];
  if (typeof header === 'string' && header.trim()) return header.trim().replace(/^<|>$/g, '');
  return /<(?:[\w.-]+:)?locktoken>\s*<(?:[\w.-]+:)?href>([^<]+)</.exec(reply.text)?.[1]?.trim();
}

export const lockBody = (owner = 'mserve-test', scope: 'exclusive' | 'shared' = 'exclusive') =>
  `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:${scope}/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>${owner}</D:href></D:owner></D:lockinfo>`;

/** Every item of a paged REST list (`items` + `nextCursor`). */
export async function allPages<T = any>(client: Client, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const reply: { status: number; text: string; body: any } = await client.get(
      `${path}${separator}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    if (reply.status !== 200) throw new Error(`GET ${path}: ${reply.status} ${reply.text}`);
    items.push(...reply.body.items);
    cursor = reply.body.nextCursor;
  } while (cursor);
  return items;
}

export interface RestMfile {
  id: string;
  name: string;
  folderId: string;
  size: number;
  md5: string;
  sha256: string;
  mimetype: string;
}

/**
 * The folder tree under a folder as the REST API shows it: files and folders by their path relative to that folder
 * ('a/b/c.txt', 'a/b'), walked with GET /mfolders/:id/mfolders and /mfolders/:id/mfiles.
 */
export async function restTree(client: Client, folderId: string): Promise<{ files: Map<string, RestMfile>; folders: Map<string, string> }> {
  const files = new Map<string, RestMfile>();
  const folders = new Map<string, string>();
  const walk = async (id: string, prefix: string) => {
    for (const file of await allPages<RestMfile>(client, `/mfolders/${id}/mfiles`)) files.set(`${prefix}${file.name}`, file);
    for (const folder of await allPages<{ id: string; name: string }>(client, `/mfolders/${id}/mfolders`)) {
      folders.set(`${prefix}${folder.name}`, folder.id);
      await walk(folder.id, `${prefix}${folder.name}/`);
    }
  };
  await walk(folderId, '');
  return { files, folders };
}

export interface ToolRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a real command-line peer (litmus, rclone, cadaver) to its end; never throws on a non-zero exit. */
export function runTool(command: string, args: string[], options: { cwd?: string; env?: Record<string, string>; input?: string } = {}): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...(options.env ?? {}) }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/**
 * The built api (dist/src/main.js) as its own process on a free port, against the run's PostgreSQL and Redis: a
 * peer that crashes the server shows as an exit instead of taking the test runner down with it. With
 * TEST_STORAGE=s3 its store is a bucket of its own on the run's s3rver.
 */
export async function startApiProcess(env: Record<string, string> = {}) {
  const port = await freePort();
  const storageDir = mkdtempSync(join(process.env.VAR_DIR!, 'dav-storage-'));
  const backupDir = mkdtempSync(join(process.env.VAR_DIR!, 'dav-backup-'));
  const queuePrefix = `mserve-dav-${Math.random().toString(36).slice(2, 10)}`;
  const child = startRole('main', {
    PORT: String(port),
    HOST: '127.0.0.1',
    STORAGE_DIR: storageDir,
    BACKUP_DIR: backupDir,
    QUEUE_PREFIX: queuePrefix,
    LOG_LEVEL: 'warn',
    ...(env.STORAGE ? {} : newStorageEnv()),
    ...env,
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  await eventually(async () => child.exitCode !== null || (await fetch(`${baseUrl}/health/ready`)).ok, 'the api process to be ready', 60_000, 100);
  if (child.exitCode !== null) throw new Error(`the api exited with ${child.exitCode}: ${child.output()}`);
  return {
    child,
    baseUrl,
    api: `${baseUrl}/api/v1`,
    storageDir,
    backupDir,
    queuePrefix,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await waitForExit(child).catch(() => child.kill('SIGKILL'));
      }
      rmSync(storageDir, { recursive: true, force: true });
      rmSync(backupDir, { recursive: true, force: true });
    },
  };
}
