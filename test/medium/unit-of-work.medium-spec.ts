import { UnitOfWork } from '../../src/database/unit-of-work';
import { MediumService, newMediumService } from '../support/medium';

/** UnitOfWork against the run's real PostgreSQL: what runs after a commit, and never without one. */
describe('unit of work (medium)', () => {
  let medium: MediumService;

  beforeAll(async () => {
    medium = await newMediumService({ imports: [] });
  });

  afterAll(async () => {
    await medium?.close();
  });

  it('runs the after-commit hooks once committed, in the order registered', async () => {
    const unitOfWork = new UnitOfWork(medium.dataSource);
    const seen: string[] = [];
    const value = await unitOfWork.run(async (work) => {
      work.afterCommit(async () => void seen.push('first'));
      work.afterCommit(async () => void seen.push('second'));
      expect(seen).toEqual([]);
      return (await work.manager.query('SELECT 41 + 1 AS n'))[0].n;
    });
    expect([value, seen]).toEqual([42, ['first', 'second']]);
  });

  it('never runs them when the work throws or the database refuses it, and the caller gets that error', async () => {
    const unitOfWork = new UnitOfWork(medium.dataSource);
    const seen: string[] = [];
    await expect(
      unitOfWork.run(async (work) => {
        work.afterCommit(async () => void seen.push('committed'));
        throw new Error('the work failed');
      }),
    ).rejects.toThrow('the work failed');
    await expect(
      unitOfWork.run(async (work) => {
        work.afterCommit(async () => void seen.push('committed'));
        await work.manager.query('SELECT 1 / 0');
      }),
    ).rejects.toThrow(/division by zero/);
    expect(seen).toEqual([]);
  });
});
