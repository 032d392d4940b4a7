import { MigrationInterface, QueryRunner } from 'typeorm';

export class UploadStagedInStore1796700000000 implements MigrationInterface {
  name = 'UploadStagedInStore1796700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "upload_session" ADD "stage" jsonb');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "upload_session" DROP COLUMN "stage"');
  }
}
