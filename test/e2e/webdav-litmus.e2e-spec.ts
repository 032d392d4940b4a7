import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client, makeTenant } from '../support/client';
import { dav, runTool, startApiProcess } from '../support/dav';

/**
 * litmus 0.13 (Debian's), the WebDAV conformance suite, against /dav/ with a service key: every suite passes.
 * Each suite runs on its own (TESTS=<suite>), because litmus stops at the first suite with a failure and the
 * report should name every failing test. litmus's `init`/`begin` delete and MKCOL `litmus/` under the URL given.
 */
const SUITES = ['basic', 'copymove', 'props', 'locks', 'http'] as const;

interface Summary {
  suite: string;
  run: number;
  passed: number;
  failed: number;
}

function summaries(output: string): Summary[] {
  return [...output.matchAll(/<- summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed\./g)].map((match) => ({
    suite: match[1],
    run: Number(match[2]),
    passed: Number(match[3]),
    failed: Number(match[4]),
  }));
}

describe('WebDAV: litmus 0.13', () => {
  let api: Awaited<ReturnType<typeof startApiProcess>>;
  const work = mkdtempSync(join(process.env.VAR_DIR!, 'litmus-'));

  beforeAll(async () => {
    api = await startApiProcess();
  });
  afterAll(async () => {
    await api.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('passes every litmus suite (basic, copymove, props, locks, http): 104 of 104', async () => {
    const admin = new Client(api.api, process.env.ADMIN_KEY);
    const tenant = await makeTenant(admin);
    const key = tenant.customerKey;
    // the mount answers at all (a clear message instead of 104 failures when it does not)
    const probe = await dav(api.baseUrl, key, 'PROPFIND', '/dav/', { headers: { depth: '0' } });
    expect([probe.status, probe.text.slice(0, 300)]).toEqual([207, expect.any(String)]);

    const found: Summary[] = [];
    let log = '';
    for (const suite of SUITES) {
      // litmus writes debug.log and child.log into its working folder
      const run = await runTool('litmus', [`${api.baseUrl}/dav/`, 'x', key], { cwd: work, env: { TESTS: suite } });
      const output = `${run.stdout}${run.stderr}`;
      log += `\n===== litmus TESTS=${suite} (exit ${run.code}) =====\n${output}`;
      const summary = summaries(output).find((candidate) => candidate.suite === suite);
      // for each failed test, the request/response trace litmus wrote to debug.log (evidence for the server's author)
      const failed = output
        .split('\n')
        .filter((line) => /\bFAIL\b/.test(line))
        .map((line) => /\d+\. (\w+)/.exec(line)?.[1])
        .filter((name): name is string => !!name);
      const debugLog = join(work, 'debug.log');
      if (failed.length && existsSync(debugLog)) {
        const trace = readFileSync(debugLog, 'latin1');
        for (const name of new Set(failed)) {
          const start = trace.search(new RegExp(`\\*+ Running test \\d+: ${name} \\*+`));
          const end = start < 0 ? -1 : trace.indexOf('******* Running test', start + 10);
          if (start >= 0) log += `\n----- debug.log for ${suite}/${name} -----\n${trace.slice(start, end < 0 ? undefined : end).slice(0, 12_000)}`;
        }
      }
      found.push(summary ?? { suite, run: 0, passed: 0, failed: -1 });
    }
    console.log(`litmus 0.13 against ${api.baseUrl}/dav/ (service key):\n${log}`);
    const failures = log.split('\n').filter((line) => /\bFAIL\b/.test(line));
    if (failures.length) console.log(`litmus failures:\n${failures.join('\n')}\n\napi output:\n${api.child.output().slice(-20_000)}`);

    expect(found.map(({ suite, run, passed, failed }) => ({ suite, all: run > 0 && passed === run && failed === 0 }))).toEqual(
      SUITES.map((suite) => ({ suite, all: true })),
    );
    expect(failures).toEqual([]);
    const total = found.reduce((sum, summary) => ({ run: sum.run + summary.run, passed: sum.passed + summary.passed }), { run: 0, passed: 0 });
    expect(total).toEqual({ run: 104, passed: 104 });

    // the api survived litmus and still serves
    expect(api.alive()).toBe(true);
    expect((await fetch(`${api.baseUrl}/health/live`)).status).toBe(200);
    expect((await dav(api.baseUrl, key, 'PROPFIND', '/dav/', { headers: { depth: '1' } })).status).toBe(207);
  }, 900_000);
});
