import { UnitOfWork } from '../../src/database/unit-of-work';
import { MediumService, newMediumService } from '../support/medium';

/** UnitOfWork against the run's real PostgreSQL: what runs after a commit, and what runs when there is none. */
describe('unit of work (medium)', () => {
  let medium: MediumService;

  beforeAll(async () => {
    medium = await newMediumService({ imports: [] });
  });

  afterAll(async () => {
    await medium?.close();
  });

  it('runs the after-commit hooks once committed and never the rollback ones', async () => {
    const unitOfWork = new UnitOfWork(medium.dataSource);
    const seen: string[] = [];
    const value = await unitOfWork.run(async (work) => {
      work.afterCommit(async () => void seen.push('committed'));
      work.afterRollback(async () => void seen.push('rolled back'));
      return (await work.manager.query('SELECT 41 + 1 AS n'))[0].n;
    });
    expect([value, seen]).toEqual([42, ['committed']]);
  });

  it('runs the rollback hooks when the work throws or the database refuses it, and the caller gets that error', async () => {
    const unitOfWork = new UnitOfWork(medium.dataSource);
    const seen: string[] = [];
    await expect(
      unitOfWork.run(async (work) => {
        work.afterCommit(async () => void seen.push('committed'));
        work.afterRollback(async () => void seen.push('first undone'));
        // a failing hook does not stop the next one nor hide the transaction's error
        work.afterRollback(async () => {
          throw new Error('hook failed');
        });
        work.afterRollback(async () => void seen.push('second undone'));
        throw new Error('the work failed');
      }),
    ).rejects.toThrow('the work failed');
    expect(seen).toEqual(['first undone', 'second undone']);

    seen.length = 0;
    await expect(
      unitOfWork.run(async (work) => {
        work.afterRollback(async () => void seen.push('undone'));
        await work.manager.query('SELECT 1 / 0');
      }),
    ).rejects.toThrow(/division by zero/);
    expect(seen).toEqual(['undone']);
  });
});
