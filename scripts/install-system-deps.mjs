#!/usr/bin/env node
// Installs what the test suite needs from Debian when it is missing (the suite runs real peers, not mocks):
// redis-server (the queue) and redis-sentinel (the failover test's three sentinels), ffmpeg (test media), git (the
// fresh-clone check), the WebDAV peers the /dav/ tests drive: litmus (conformance suite), rclone and cadaver (real
// clients), Chromium for the console tests (driven by playwright-core; never a browser download), pgbouncer
// (PostgreSQL behind a pooler in transaction mode) and nginx (the multi-node test's load balancer). Root + apt-get
// only; otherwise it says exactly what to install.
import { spawnSync } from 'node:child_process';

const NEEDED = [
  { command: 'redis-server', pkg: 'redis-server' },
  { command: 'redis-sentinel', pkg: 'redis-sentinel' },
  { command: 'ffmpeg', pkg: 'ffmpeg' },
  { command: 'git', pkg: 'git' },
  { command: 'litmus', pkg: 'litmus' },
  { command: 'rclone', pkg: 'rclone' },
  { command: 'cadaver', pkg: 'cadaver' },
  { command: 'chromium', pkg: 'chromium' },
  { command: 'nginx', pkg: 'nginx' },
  { command: 'pgbouncer', pkg: 'pgbouncer' },
];
// Debian puts pgbouncer in /usr/sbin, which a non-root PATH may lack
const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` } }).status === 0;
const missing = NEEDED.filter(({ command }) => !has(command));
if (missing.length === 0) process.exit(0);
const packages = missing.map(({ pkg }) => pkg);
const isRoot = process.getuid?.() === 0;
if (!isRoot || !has('apt-get')) {
  console.error(`missing: ${missing.map(({ command }) => command).join(', ')}. Install them with: sudo apt-get install -y ${packages.join(' ')}`);
  process.exit(1);
}
console.log(`installing from Debian: ${packages.join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const run = (args) => spawnSync('apt-get', args, { env, stdio: 'inherit' }).status === 0;
if (!run(['update', '-qq']) || !run(['install', '-y', '-qq', '--no-install-recommends', ...packages])) {
  console.error(`apt-get could not install ${packages.join(' ')}`);
  process.exit(1);
}
