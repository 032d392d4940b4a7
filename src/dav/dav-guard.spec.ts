import express from 'express';
import type { Request, Response } from 'express';
import type { AddressInfo } from 'node:net';
import { LAST_RESORT_MESSAGE, lastResort } from './dav.middleware';

describe('the WebDAV last-resort guard', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });

  it('logs the escaped error with its request, answers that request 500 and shuts the process down instead of resuming', async () => {
    const logged: string[] = [];
    let shutdowns = 0;
    let current: { req: Request; res: Response } | undefined;
    const guard = lastResort(
      { error: (message: string) => logged.push(message) },
      () => shutdowns++,
      () => current,
    );
    const app = express();
    app.use((req, res) => {
      current = { req, res };
      guard(new Error('thrown in a callback'));
      current = undefined;
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const answer = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/dav/x`, { method: 'PROPFIND' });
      expect(answer.status).toBe(500);
      expect(answer.headers.get('content-type')).toContain('application/problem+json');
      expect((await answer.json()).detail).toContain('restarting');
    } finally {
      server.close();
    }
    expect(logged).toEqual([expect.stringContaining(`${LAST_RESORT_MESSAGE} (PROPFIND /dav/x): Error: thrown in a callback`)]);
    expect(shutdowns).toBe(1);
    expect(process.exitCode).toBe(1);
    // a second escape while shutting down is logged, and does not start a second shutdown
    guard(new Error('outside'));
    expect(logged[1]).toContain('(outside any request)');
    expect(shutdowns).toBe(1);
  });
});
