import { MigrationInterface, QueryRunner } from 'typeorm';

/** The reconciler's look for jobs left running (a worker machine gone) finds them by index, as the queued ones. */
export class JobRunningIndex1796710000000 implements MigrationInterface {
  name = 'JobRunningIndex1796710000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "idx_job_running" ON "job" ("state", "updated_at") WHERE state = 'running'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."idx_job_running"');
  }
}
