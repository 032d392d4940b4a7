import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs, ParseArgsConfig } from 'node:util';
import type { components } from '../common/api-contract';
import { ApiClient, CliError } from './api-client';
import { cliHome, forgetKey, readConfig, writeConfig } from './config';
import { formatBytes, table } from './output';
import { readEvents } from './sse';
import { collectFiles, uploadFiles } from './upload';

/** What the API answers, as its contract (docs/openapi.json) says: the generated types. */
type Schemas = components['schemas'];

export const USAGE = `mserve: MServe from the command line

  mserve login --url <url> [--key <key>]    keep a key (from --key, MSERVE_KEY or stdin) after checking it
  mserve logout                             forget the key
  mserve whoami                             what the key is for
  mserve upload <paths...> --service <id> [--folder <id>] [--parallel 4] [--replace] [--chunk-mib 8]
                                            tus uploads, resumed by the next run after an interruption; folders are
                                            made as on disk; files whose name and sha256 are there are skipped
  mserve download <mfile-id...> [-o <dir or file>]
  mserve ls [--service <id> | --folder <id>]
  mserve jobs watch (--service <id> [--until-done] | <job-id...>)
  mserve keys derive [--role <r>]... [--action <a>]... [--resource <type>:<id>] [--expires <ISO 8601>] [--label <text>]
  mserve keys ls
  mserve keys revoke <key-id>
  mserve usage (--service <id> | --container <id> | --mfile <id> | --job <id>) [--from] [--to] [--bucket day] [--metric m]... [--csv]

  every command: --json (machine-readable output), --url and --key (else MSERVE_URL / MSERVE_KEY, else the login)
  the key and unfinished uploads are kept in ${'$'}MSERVE_HOME (default ~/.config/mserve)`;

const GLOBAL = {
  json: { type: 'boolean' },
  url: { type: 'string' },
  key: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  stdin: () => Promise<string>;
  /** Aborted on SIGINT/SIGTERM: long commands stop cleanly (uploads pause to resume later). */
  signal: AbortSignal;
}

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, positionals = true) {
  try {
    return parseArgs({ args, options: { ...GLOBAL, ...options }, allowPositionals: positionals, strict: true });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\n\n${USAGE}`, 2);
  }
}

function clientFor(values: { url?: string; key?: string }): ApiClient {
  const config = readConfig();
  const url = values.url || process.env.MSERVE_URL || config.url;
  const key = values.key || process.env.MSERVE_KEY || config.key;
  if (!url) throw new CliError('no MServe URL: run `mserve login --url <url>` or set MSERVE_URL', 2);
  if (!key) throw new CliError('no key: run `mserve login` or set MSERVE_KEY', 2);
  return new ApiClient(url, key);
}

const print = (io: Io, json: boolean | undefined, value: unknown, human: () => string) => io.out(json ? JSON.stringify(value, null, 2) : human());

/** Runs one command line; resolves to the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'login':
        return await login(rest, io);
      case 'logout': {
        parse(rest, {}, false);
        forgetKey();
        io.out('the key is forgotten');
        return 0;
      }
      case 'whoami': {
        const { values } = parse(rest, {}, false);
        const me = await clientFor(values).get<Schemas['Key']>('/me');
        print(io, values.json, me, () => describeKey(me));
        return 0;
      }
      case 'upload':
        return await upload(rest, io);
      case 'download':
        return await download(rest, io);
      case 'ls':
        return await list(rest, io);
      case 'jobs':
        if (rest[0] === 'watch') return await watch(rest.slice(1), io);
        throw new CliError(`jobs: say \`jobs watch\`\n\n${USAGE}`, 2);
      case 'keys':
        return await keys(rest, io);
      case 'usage':
        return await usage(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new CliError(`unknown command "${command}"\n\n${USAGE}`, 2);
    }
  } catch (error) {
    if (error instanceof CliError) {
      io.err(`mserve: ${error.message}`);
      return error.exitCode;
    }
    if ((error as Error).name === 'AbortError') return 130;
    throw error;
  }
}

function describeKey(me: Schemas['Key']): string {
  const { resource } = me;
  return [
    `key ${me.id}${me.label ? ` (${me.label})` : ''}`,
    `for ${resource.type}${resource.id ? ` ${resource.id}` : ''}`,
    `roles: ${me.roles.join(', ') || '-'}; actions: ${me.actions.join(', ') || '-'}`,
    `expires: ${me.expiresAt ?? 'never'}`,
  ].join('\n');
}

async function login(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, {}, false);
  const url = values.url || process.env.MSERVE_URL || readConfig().url;
  if (!url) throw new CliError('login needs --url <url of MServe>', 2);
  const key = (values.key || process.env.MSERVE_KEY || (await io.stdin())).trim();
  if (!key) throw new CliError('login needs a key: --key <key>, MSERVE_KEY, or the key on stdin', 2);
  const client = new ApiClient(url, key);
  const me = await client.get<Schemas['Key']>('/me');
  const path = writeConfig({ url: url.replace(/\/+$/, ''), key });
  print(io, values.json, { url: client.url, config: path, key: me }, () => `logged in to ${client.url} (kept in ${path})\n${describeKey(me)}`);
  return 0;
}

async function upload(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    service: { type: 'string', short: 's' },
    folder: { type: 'string' },
    parallel: { type: 'string', short: 'p' },
    replace: { type: 'boolean' },
    'chunk-mib': { type: 'string' },
  });
  if (!values.service) throw new CliError('upload needs --service <id>', 2);
  if (positionals.length === 0) throw new CliError('upload needs the files or folders to upload', 2);
  const parallel = Number(values.parallel ?? 4);
  const chunkMib = Number(values['chunk-mib'] ?? 8);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) throw new CliError('--parallel must be an integer from 1 to 64', 2);
  if (!(chunkMib > 0 && chunkMib <= 1024)) throw new CliError('--chunk-mib must be more than 0 and at most 1024', 2);
  const client = clientFor(values);
  const files = await collectFiles(positionals);
  const home = cliHome();
  await mkdir(home, { recursive: true, mode: 0o700 });
  const outcomes = await uploadFiles(client, files, {
    serviceId: values.service,
    folderId: values.folder,
    parallel,
    replace: Boolean(values.replace),
    chunkBytes: Math.round(chunkMib * 1024 * 1024),
    stateFile: join(home, 'uploads.json'),
    say: values.json ? () => undefined : io.out,
    signal: io.signal,
  });
  const count = (status: string) => outcomes.filter((outcome) => outcome.status === status).length;
  const summary = {
    files: outcomes.length,
    uploaded: count('uploaded'),
    resumed: outcomes.filter((outcome) => outcome.status === 'uploaded' && outcome.resumedAt).length,
    skipped: count('skipped'),
    replaced: count('replaced'),
    failed: count('failed'),
    interrupted: count('interrupted'),
    bytes: outcomes.filter((outcome) => outcome.status === 'uploaded' || outcome.status === 'replaced').reduce((sum, outcome) => sum + outcome.size, 0),
  };
  print(io, values.json, { summary, files: outcomes }, () =>
    [
      `${summary.uploaded} uploaded (${summary.resumed} resumed, ${formatBytes(summary.bytes)}), ${summary.skipped} skipped, ${summary.replaced} replaced, ${summary.failed} failed` +
        (summary.interrupted ? `, ${summary.interrupted} not finished: run the same command again to resume` : ''),
    ].join('\n'),
  );
  if (summary.interrupted) return 130;
  return summary.failed ? 1 : 0;
}

async function download(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { output: { type: 'string', short: 'o' } });
  if (positionals.length === 0) throw new CliError('download needs the ids of the Mfiles', 2);
  const client = clientFor(values);
  const target = values.output ?? '.';
  const isDir =
    positionals.length > 1 ||
    (await stat(target).then(
      (info) => info.isDirectory(),
      () => false,
    ));
  if (positionals.length > 1) await mkdir(target, { recursive: true });
  const done: Array<{ id: string; name: string; size: number; sha256: string; path: string }> = [];
  const mfiles = [];
  for (const id of positionals) mfiles.push(await client.get<Schemas['Mfile']>(`/mfiles/${encodeURIComponent(id)}`));
  // two files of one name would land on one path: say so before anything is written
  const names = mfiles.map((mfile) => basename(mfile.name));
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (isDir && twice) throw new CliError(`two of these files are named "${twice}": download them into different folders`, 2);
  for (const mfile of mfiles) {
    const id = mfile.id;
    const path = isDir ? join(target, basename(mfile.name)) : target;
    const temp = `${path}.mserve-${process.pid}.part`;
    const response = await client.raw('GET', `/mfiles/${encodeURIComponent(id)}/content`, { signal: io.signal });
    const hash = createHash('sha256');
    const digest = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), digest, createWriteStream(temp, { flush: true }), {
        signal: io.signal,
      });
      const sha256 = hash.digest('hex');
      if (sha256 !== mfile.sha256) throw new CliError(`${mfile.name}: the bytes received have sha256 ${sha256}, not the file's ${mfile.sha256}: not kept`);
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    done.push({ id: mfile.id, name: mfile.name, size: mfile.size, sha256: mfile.sha256, path });
    if (!values.json) io.out(`${path} (${formatBytes(mfile.size)}, sha256 checked)`);
  }
  if (values.json) io.out(JSON.stringify(done, null, 2));
  return 0;
}

async function list(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, { service: { type: 'string', short: 's' }, folder: { type: 'string' } }, false);
  const client = clientFor(values);
  let folderId = values.folder;
  if (!folderId) {
    if (!values.service) throw new CliError('ls needs --service <id> or --folder <id>', 2);
    folderId = (await client.get<{ rootFolderId: string }>(`/services/${values.service}`)).rootFolderId;
  }
  const folders: Array<{ id: string; name: string }> = [];
  for await (const folder of client.all<{ id: string; name: string }>(`/mfolders/${folderId}/mfolders`)) folders.push(folder);
  const files: Array<{ id: string; name: string; size: number; mimetype: string; createdAt: string }> = [];
  for await (const file of client.all<(typeof files)[number]>(`/mfolders/${folderId}/mfiles`, { sort: 'name' })) files.push(file);
  print(io, values.json, { folderId, folders, files }, () =>
    table(
      [
        ...folders.map((folder) => ({ name: `${folder.name}/`, size: null, type: 'folder', created: '', id: folder.id })),
        ...files.map((file) => ({ name: file.name, size: formatBytes(Number(file.size)), type: file.mimetype, created: file.createdAt, id: file.id })),
      ],
      ['name', 'size', 'type', 'created', 'id'],
    ),
  );
  return 0;
}

const FINAL = ['succeeded', 'failed', 'cancelled', 'skipped'];
const UNFINISHED = ['waiting', 'queued', 'running'];

async function watch(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { service: { type: 'string', short: 's' }, 'until-done': { type: 'boolean' } });
  const client = clientFor(values);
  const show = (event: { id: string; state: string; progress?: number | null; error?: string | null; at?: string }) =>
    io.out(
      values.json
        ? JSON.stringify(event)
        : `${event.at ?? new Date().toISOString()}  ${event.id}  ${event.state}${event.progress != null && !FINAL.includes(event.state) ? ` ${event.progress}%` : ''}${event.error ? `  ${event.error}` : ''}`,
    );
  if (positionals.length) {
    if (positionals.length > 16) throw new CliError('jobs watch follows at most 16 jobs at once (each is a stream): watch the service instead', 2);
    // each job to its end (the server ends a stream after a final state, or after 5 minutes: then again); the first
    // failure stops the others
    const local = new AbortController();
    const stopAll = () => local.abort();
    io.signal.addEventListener('abort', stopAll, { once: true });
    let bad = 0;
    try {
      await Promise.all(
        positionals.map(async (id) => {
          try {
            for (;;) {
              const response = await client.raw('GET', `/jobs/${encodeURIComponent(id)}/events`, {
                headers: { accept: 'text/event-stream' },
                signal: local.signal,
              });
              let final: string | undefined;
              for await (const event of readEvents(response)) {
                if (event.event !== 'state' && event.event !== 'progress') continue;
                const data = JSON.parse(event.data) as { id: string; state?: string; progress?: number; error?: string; at?: string; updatedAt?: string };
                show({ id, state: data.state ?? 'running', progress: data.progress, error: data.error, at: data.at ?? data.updatedAt });
                if (data.state && FINAL.includes(data.state)) final = data.state;
              }
              if (final) {
                if (final === 'failed' || final === 'cancelled') bad++;
                return;
              }
              if (local.signal.aborted) return;
            }
          } catch (error) {
            local.abort();
            throw error;
          }
        }),
      );
    } finally {
      io.signal.removeEventListener('abort', stopAll);
    }
    return bad ? 1 : 0;
  }
  if (!values.service) throw new CliError('jobs watch needs --service <id> or job ids', 2);
  const serviceId = values.service;
  const since = new Date();
  const anyIn = async (states: string[]) => {
    for (const state of states) if ((await client.get<{ items: unknown[] }>(`/services/${serviceId}/jobs`, { state, limit: 1 })).items.length) return true;
    return false;
  };
  // nothing left to run: two rounds of the three states in opposite orders both empty (a job moving between two
  // states while one round reads them cannot escape both)
  const done = async () => !(await anyIn(UNFINISHED)) && !(await anyIn([...UNFINISHED].reverse()));
  // how many jobs failed since the watch began, from the list (a failure while the stream reconnected counts too):
  // the 1,000 failed jobs made last, newest first, those that ended after the watch began
  const failedSince = async () => {
    let count = 0;
    let seen = 0;
    for await (const job of client.all<{ finishedAt: string | null }>(`/services/${serviceId}/jobs`, { state: 'failed', order: 'newest' })) {
      if (job.finishedAt && new Date(job.finishedAt) >= since) count++;
      if (++seen >= 1000) break;
    }
    return count;
  };
  for (;;) {
    const response = await client.raw('GET', `/services/${serviceId}/jobs/events`, { headers: { accept: 'text/event-stream' }, signal: io.signal });
    for await (const event of readEvents(response)) {
      if (event.event === 'ready') {
        // listening: whatever ends from now on is seen; is anything left to wait for?
        if (values['until-done'] && (await done())) return (await failedSince()) ? 1 : 0;
        continue;
      }
      if (event.event !== 'job') continue;
      const data = JSON.parse(event.data) as { id: string; state: string; progress: number | null; error: string | null; at: string };
      show(data);
      if (values['until-done'] && FINAL.includes(data.state) && (await done())) return (await failedSince()) ? 1 : 0;
    }
    // the server ends a stream after a while: follow again (the key is checked again)
  }
}

async function keys(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'derive') {
    const { values } = parse(
      rest,
      {
        role: { type: 'string', multiple: true },
        action: { type: 'string', multiple: true },
        resource: { type: 'string' },
        expires: { type: 'string' },
        label: { type: 'string' },
      },
      false,
    );
    const body: Record<string, unknown> = {};
    if (values.role) body.roles = values.role.flatMap((role) => role.split(','));
    if (values.action) body.actions = values.action.flatMap((action) => action.split(','));
    if (values.resource) {
      const [type, id] = values.resource.split(':');
      body.resource = id ? { type, id } : { type };
    }
    if (values.expires) body.expiresAt = values.expires;
    if (values.label) body.label = values.label;
    if (!body.roles && !body.actions) throw new CliError('keys derive needs --role or --action: what the new key may do', 2);
    const made = await clientFor(values).request<Schemas['IssuedKey']>('POST', '/keys', { body });
    print(io, values.json, made, () => `${made.key}\n(the secret is shown once)\n${describeKey(made)}`);
    return 0;
  }
  if (sub === 'revoke') {
    const { values, positionals } = parse(rest, {});
    if (positionals.length !== 1) throw new CliError('keys revoke needs one key id', 2);
    await clientFor(values).request('DELETE', `/keys/${encodeURIComponent(positionals[0])}`);
    print(io, values.json, { revoked: positionals[0] }, () => `revoked ${positionals[0]} and every key derived from it`);
    return 0;
  }
  if (sub === 'ls') {
    const { values } = parse(rest, {}, false);
    const found: Array<Schemas['Key']> = [];
    for await (const key of clientFor(values).all<Schemas['Key']>('/keys')) found.push(key);
    print(io, values.json, found, () =>
      table(
        found.map((key) => {
          const { resource } = key;
          return {
            id: key.id,
            label: key.label ?? '',
            resource: `${resource.type}${resource.id ? `:${resource.id}` : ''}`,
            rights: [...key.roles, ...key.actions].join(','),
            expires: key.expiresAt ?? '',
            revoked: key.revokedAt ?? '',
          };
        }),
        ['id', 'label', 'resource', 'rights', 'expires', 'revoked'],
      ),
    );
    return 0;
  }
  throw new CliError(`keys: say derive, ls or revoke\n\n${USAGE}`, 2);
}

async function usage(args: string[], io: Io): Promise<number> {
  const { values } = parse(
    args,
    {
      service: { type: 'string' },
      container: { type: 'string' },
      mfile: { type: 'string' },
      job: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      bucket: { type: 'string' },
      metric: { type: 'string', multiple: true },
      csv: { type: 'boolean' },
    },
    false,
  );
  const scopes = (['service', 'container', 'mfile', 'job'] as const).filter((scope) => values[scope]);
  if (scopes.length !== 1) throw new CliError('usage needs one of --service, --container, --mfile or --job', 2);
  const path = `/${scopes[0] === 'mfile' ? 'mfiles' : `${scopes[0]}s`}/${encodeURIComponent(values[scopes[0]]!)}/usage`;
  const query = { from: values.from, to: values.to, bucket: values.bucket ?? 'total', metric: values.metric?.join(',') };
  const client = clientFor(values);
  if (values.csv) {
    io.out((await (await client.raw('GET', path, { query: { ...query, format: 'csv' }, headers: { accept: 'text/csv' } })).text()).trimEnd());
    return 0;
  }
  const report = await client.get<Schemas['UsageReport']>(path, query);
  print(io, values.json, report, () =>
    [
      `${scopes[0]} ${values[scopes[0]]}: ${report.from} to ${report.to}, by ${report.bucket}`,
      table(
        report.series.flatMap((series) =>
          (report.bucket === 'total' ? [series.total] : series.buckets)
            .filter((bucket) => bucket.count > 0 || bucket.level !== undefined)
            .map((bucket) => ({ metric: series.metric, from: bucket.start, sum: bucket.sum, count: bucket.count, level: bucket.level ?? null })),
        ),
        ['metric', 'from', 'sum', 'count', 'level'],
      ),
    ].join('\n'),
  );
  return 0;
}
