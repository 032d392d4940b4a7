import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * Machines for multi-node tests, made on this one: each a network namespace (`ip netns`) with its own loopback and
 * an address on a private /24, joined by a bridge in the test's own namespace (which takes `.254`, so the test
 * reaches every machine and nothing else does). A process can also get a private mount namespace with an empty
 * tmpfs over one folder and its own hostname, so that no two machines share that folder and each names itself as
 * a real machine would (a worker records its hostname on the jobs it runs). Root only (CI and these machines run as
 * root); everything is removed by `close()`, and every name starts with `mserve` so that a leftover is recognisable.
 */
export interface Machine {
  name: string;
  namespace: string;
  address: string;
  /**
   * Runs a command on this machine. With `privateDir`, in a mount namespace of its own where an empty tmpfs covers
   * that folder (it must exist), and with `node-<name>` as its hostname. `env` adds to this process's environment; a
   * variable set to undefined is removed.
   */
  run(command: string, args: string[], options?: { env?: Record<string, string | undefined>; privateDir?: string }): ChildProcess & { output: () => string };
  /** SIGKILLs every process of this machine, as a power cut would. */
  crash(): void;
  /** The pids running in this machine's network namespace. */
  pids(): number[];
}

export interface Network {
  /** The test's own address on the bridge. */
  gateway: string;
  machines: Record<string, Machine>;
  close(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** A /24 in 10.0.0.0/8 that no route of this machine covers yet. */
function freeSubnet(): string {
  const routes = ip('-4', 'route', 'show');
  for (let attempt = 0; attempt < 50; attempt++) {
    const subnet = `10.${200 + (randomBytes(1)[0] % 50)}.${randomBytes(1)[0] % 250}`;
    if (!routes.includes(`${subnet}.`)) return subnet;
  }
  throw new Error('no free 10.x.y.0/24 subnet for the test network');
}

export function makeNetwork(names: string[]): Network {
  const id = randomBytes(3).toString('hex');
  const subnet = freeSubnet();
  const bridge = `mserve${id}`;
  const made: string[] = [];
  const close = () => {
    for (const namespace of made) {
      for (const pid of namespacePids(namespace)) killQuietly(pid);
      try {
        ip('netns', 'del', namespace);
      } catch {
        // already gone
      }
    }
    try {
      ip('link', 'del', bridge);
    } catch {
      // already gone
    }
  };
  try {
    ip('link', 'add', 'name', bridge, 'type', 'bridge');
    ip('addr', 'add', `${subnet}.254/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    const machines: Record<string, Machine> = {};
    names.forEach((name, index) => {
      const namespace = `mserve-${id}-${name}`;
      const address = `${subnet}.${index + 1}`;
      const hostSide = `mserve${id}v${index}`;
      ip('netns', 'add', namespace);
      made.push(namespace);
      ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace);
      ip('link', 'set', hostSide, 'master', bridge);
      ip('link', 'set', hostSide, 'up');
      ip('-n', namespace, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      ip('-n', namespace, 'link', 'set', 'eth0', 'up');
      ip('-n', namespace, 'link', 'set', 'lo', 'up');
      machines[name] = {
        name,
        namespace,
        address,
        run: (command, args, options = {}) => runIn(namespace, name, command, args, options),
        crash: () => namespacePids(namespace).forEach(killQuietly),
        pids: () => namespacePids(namespace),
      };
    });
    return { gateway: `${subnet}.254`, machines, close };
  } catch (error) {
    close();
    throw error;
  }
}

function namespacePids(namespace: string): number[] {
  try {
    return ip('netns', 'pids', namespace).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

function runIn(
  namespace: string,
  hostname: string,
  command: string,
  args: string[],
  options: { env?: Record<string, string | undefined>; privateDir?: string },
): ChildProcess & { output: () => string } {
  // `ip netns exec` and `unshare` exec the next program in place, and so does the shell: the child's pid is the
  // command's own (a SIGKILL of it is a SIGKILL of the command)
  const inside = options.privateDir
    ? [
        'unshare',
        '--mount',
        '--uts',
        '--propagation',
        'private',
        'sh',
        '-c',
        'hostname "node-$0" && mount -t tmpfs -o mode=0755 mserve-machine "$1" && shift && exec "$@"',
        hostname,
        options.privateDir,
        command,
        ...args,
      ]
    : [command, ...args];
  const env: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: '', ...options.env };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  const child = spawn('ip', ['netns', 'exec', namespace, ...inside], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-200_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return Object.assign(child, { output: () => output });
}
