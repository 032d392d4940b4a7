import { MigrationInterface, QueryRunner } from 'typeorm';

export class JobRequestedByKey1796611809469 implements MigrationInterface {
  name = 'JobRequestedByKey1796611809469';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"job\" ADD \"requested_by_key_id\" uuid");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"job\" DROP COLUMN \"requested_by_key_id\"");
  }
}
