import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from './free-port';
import { eventually, waitForExit } from './processes';

/** A redis-server or redis-sentinel this helper started, with the tail of its output for a failure's message. */
export interface RedisNode {
  port: number;
  process: ChildProcess;
  output(): string;
  /** Starts it again, same command line (a killed node coming back empty: nothing is persisted). */
  restart(): void;
}

/**
 * A Redis Sentinel deployment on the loopback, as issue 18 asks: one master, one replica (`replicaof`), three
 * sentinels (the Debian `redis-sentinel` binary) monitoring it with quorum 2 and a 1 s down-after, every node with
 * the same password (REDIS_URL's, for the data nodes; the sentinels have none). `env` is what an api or worker
 * needs to use it.
 */
export interface SentinelGroup {
  name: string;
  master: RedisNode;
  replica: RedisNode;
  sentinels: RedisNode[];
  env: Record<string, string>;
  /** The port a sentinel gives for the master now (SENTINEL get-master-addr-by-name). */
  masterPortSaidBy(sentinel: RedisNode): Promise<number>;
  /** INFO replication of a data node (undefined while it does not answer). */
  replicationOf(node: RedisNode): Promise<string | undefined>;
  /** SENTINEL FAILOVER: the sentinels promote a replica and demote the master, which stays up. */
  failover(): Promise<void>;
  /** A client of our own through the sentinels (the same options the app uses), for the test's own reads. */
  client(): Redis;
  stop(): Promise<void>;
}

function startNode(executable: string, args: string[], port: number): RedisNode {
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  const run = () => {
    const child = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    return child;
  };
  const node: RedisNode = { port, process: run(), output: () => output, restart: () => (node.process = run()) };
  return node;
}

/** Runs `probe` on a short-lived connection to a node; undefined while the node does not answer. */
async function ask<T>(port: number, password: string | undefined, probe: (redis: Redis) => Promise<T>): Promise<T | undefined> {
  const redis = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await probe(redis);
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

/** SENTINEL master's reply as a map of its fields. */
const fields = (reply: string[]) => Object.fromEntries(reply.flatMap((value, index) => (index % 2 ? [] : [[value, reply[index + 1]]])));

export async function startSentinelGroup(dir: string, name = 'mserve-test'): Promise<SentinelGroup> {
  const password = randomBytes(12).toString('hex');
  const nodes: RedisNode[] = [];
  const dataNode = (role: string, port: number, extra: string[] = []) => {
    const data = join(dir, role);
    mkdirSync(data, { recursive: true });
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', data, '--save', '', '--appendonly', 'no'];
    const node = startNode('redis-server', [...args, '--requirepass', password, '--masterauth', password, '--loglevel', 'warning', ...extra], port);
    nodes.push(node);
    return node;
  };
  const stop = async () => {
    for (const node of nodes) if (node.process.exitCode === null && node.process.signalCode === null) node.process.kill('SIGKILL');
    await Promise.all(nodes.map((node) => waitForExit(node.process)));
  };
  try {
    const master = dataNode('master', await freePort());
    const replica = dataNode('replica', await freePort(), ['--replicaof', '127.0.0.1', String(master.port)]);
    await eventually(
      () => ask(replica.port, password, async (redis) => /master_link_status:up/.test(await redis.info('replication'))),
      `the replica (port ${replica.port}) in sync with the master (port ${master.port})`,
    );
    const sentinels: RedisNode[] = [];
    for (const role of ['sentinel-1', 'sentinel-2', 'sentinel-3']) {
      const port = await freePort();
      const config = join(dir, `${role}.conf`);
      // a sentinel rewrites its own file (the replicas and sentinels it learns): one writable file each
      writeFileSync(
        config,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
          `sentinel auth-pass ${name} ${password}`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      const sentinel = startNode('redis-sentinel', [config], port);
      nodes.push(sentinel);
      sentinels.push(sentinel);
    }
    // a failover needs each sentinel to know the replica and a majority of the others (hello messages, every 2 s)
    for (const sentinel of sentinels)
      await eventually(
        () =>
          ask(sentinel.port, undefined, async (redis) => {
            const state = fields((await redis.call('SENTINEL', 'MASTER', name)) as string[]);
            return state['num-slaves'] === '1' && state['num-other-sentinels'] === '2';
          }),
        `sentinel ${sentinel.port} to know the replica and the two other sentinels`,
      );
    const env = {
      REDIS_SENTINELS: sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(','),
      REDIS_SENTINEL_NAME: name,
      // the data nodes' password only: with sentinels REDIS_URL's address is not used
      REDIS_URL: `redis://:${password}@127.0.0.1`,
    };
    return {
      name,
      master,
      replica,
      sentinels,
      env,
      masterPortSaidBy: async (sentinel) => {
        const reply = await ask(sentinel.port, undefined, (redis) => redis.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name) as Promise<string[]>);
        if (!reply) throw new Error(`sentinel ${sentinel.port} does not answer`);
        return Number(reply[1]);
      },
      replicationOf: (node) => ask(node.port, password, (redis) => redis.info('replication')),
      failover: async () => {
        const reply = await ask(sentinels[0].port, undefined, (redis) => redis.call('SENTINEL', 'FAILOVER', name));
        if (reply !== 'OK') throw new Error(`SENTINEL FAILOVER ${name}: ${String(reply)}`);
      },
      client: () => {
        const client = new Redis({ sentinels: sentinels.map((sentinel) => ({ host: '127.0.0.1', port: sentinel.port })), name, password });
        // it reconnects by itself through the failover; an 'error' event with no listener would be printed as unhandled
        client.on('error', () => undefined);
        return client;
      },
      stop,
    };
  } catch (error) {
    const outputs = nodes.map((node) => `port ${node.port}: ${node.output().trim().slice(-500)}`).join('\n');
    await stop();
    throw new Error(`${(error as Error).message}\n${outputs}`, { cause: error });
  }
}
