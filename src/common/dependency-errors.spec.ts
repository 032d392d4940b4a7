import { QueryFailedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { toProblem } from './problem.filter';

/** What node-postgres, pg-pool and TypeORM throw when PostgreSQL is down or hung, and what ioredis throws when Redis is. */
const socketError = (code: string, message: string) => Object.assign(new Error(message), { code, errno: -111, syscall: 'connect' });
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'FATAL' });
const queryFailed = (driverError: Error) => new QueryFailedError('SELECT 1', [], driverError);

describe('dependency outages become 503 problems with Retry-After (toProblem)', () => {
  const database: Array<[string, unknown]> = [
    ['a refused connection (stopped)', socketError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:54329')],
    ['a reset connection', queryFailed(socketError('ECONNRESET', 'read ECONNRESET'))],
    ['a connection that died mid-query', queryFailed(new Error('Connection terminated unexpectedly'))],
    ['a connect that timed out (hung)', new Error('Connection terminated due to connection timeout')],
    ['no free pooled connection in time', new Error('timeout exceeded when trying to connect')],
    ['a query with no answer in time (hung)', queryFailed(new Error('Query read timeout'))],
    ['administrator shutdown (57P01)', queryFailed(pgError('57P01', 'terminating connection due to administrator command'))],
    ['crash shutdown (57P02)', queryFailed(pgError('57P02', 'terminating connection because of crash of another server process'))],
    ['a server still starting (57P03)', pgError('57P03', 'the database system is starting up')],
    ['a connection exception (08006)', queryFailed(pgError('08006', 'connection failure'))],
    // seen in the faults test: PostgreSQL SIGKILLed between two statements of an upload's transaction
    ['a transaction whose connection died and was released', new QueryRunnerProviderAlreadyReleasedError()],
  ];
  it.each(database)('the database: %s', (_what, error) => {
    expect(toProblem(error, 'r1')).toMatchObject({ status: 503, dependency: 'database', retryAfterSeconds: expect.any(Number), requestId: 'r1' });
  });

  const redis: Array<[string, unknown]> = [
    [
      'a command dropped while reconnecting',
      Object.assign(new Error('Reached the max retries per request limit (which is 1).'), { name: 'MaxRetriesPerRequestError' }),
    ],
    ['a command with no answer in time (hung)', new Error('Command timed out')],
    ['a closed connection', new Error('Connection is closed.')],
    ['replaying its append-only file after a restart', Object.assign(new Error('LOADING Redis is loading the dataset in memory'), { name: 'ReplyError' })],
    ['a replica during a failover', Object.assign(new Error("READONLY You can't write against a read only replica."), { name: 'ReplyError' })],
  ];
  it.each(redis)('Redis: %s', (_what, error) => {
    expect(toProblem(error)).toMatchObject({ status: 503, dependency: 'redis', retryAfterSeconds: expect.any(Number) });
  });

  it('a fault of ours or a wrong request stays what it was', () => {
    expect(toProblem(new Error('boom')).status).toBe(500);
    expect(toProblem(Object.assign(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), { name: 'ReplyError' })).status).toBe(500);
    expect(toProblem(queryFailed(pgError('42P01', 'relation "nope" does not exist'))).status).toBe(500);
    expect(toProblem(queryFailed(pgError('23505', 'duplicate key value violates unique constraint'))).status).toBe(500);
    expect(toProblem(queryFailed(pgError('40P01', 'deadlock detected')))).toMatchObject({ status: 503, retryAfterSeconds: 1 });
  });

  it('a named prepared statement a pooler lost is a 503 to retry (database/prepared.ts then runs them unnamed)', () => {
    for (const [code, message] of [
      ['26000', 'prepared statement "ms_x" does not exist'],
      ['42P05', 'prepared statement "ms_x" already exists'],
    ])
      expect(toProblem(queryFailed(pgError(code, message)))).toMatchObject({ status: 503, retryAfterSeconds: 1, type: expect.stringMatching(/retry$/) });
  });
});
