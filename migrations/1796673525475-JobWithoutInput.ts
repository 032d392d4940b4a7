import { MigrationInterface, QueryRunner } from 'typeorm';

export class JobWithoutInput1796673525475 implements MigrationInterface {
  name = 'JobWithoutInput1796673525475';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "job" ADD "without_input" boolean NOT NULL DEFAULT false');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "job" DROP COLUMN "without_input"');
  }
}
