import { MigrationInterface, QueryRunner } from 'typeorm';

export class ApplicationQuotas1796664704779 implements MigrationInterface {
  name = 'ApplicationQuotas1796664704779';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "service" ADD "app_quotas" jsonb');
    await queryRunner.query('ALTER TABLE "container" ADD "app_quotas" jsonb');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "container" DROP COLUMN "app_quotas"');
    await queryRunner.query('ALTER TABLE "service" DROP COLUMN "app_quotas"');
  }
}
