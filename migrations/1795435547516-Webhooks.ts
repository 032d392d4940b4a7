import { MigrationInterface, QueryRunner } from 'typeorm';

export class Webhooks1795435547516 implements MigrationInterface {
  name = 'Webhooks1795435547516';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"service_webhook\" (\"id\" uuid NOT NULL, \"service_id\" uuid NOT NULL, \"url\" character varying(2000) NOT NULL, \"events\" jsonb NOT NULL DEFAULT '[]', \"secret\" character varying(100) NOT NULL, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_9af08bbcfaabd7b6277bbfd04de\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"idx_service_webhook_service\" ON \"service_webhook\"  (\"service_id\", \"id\") ");
    await queryRunner.query("ALTER TABLE \"service_webhook\" ADD CONSTRAINT \"FK_b0807df79f9a5d4c8245896fa50\" FOREIGN KEY (\"service_id\") REFERENCES \"service\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"service_webhook\" DROP CONSTRAINT \"FK_b0807df79f9a5d4c8245896fa50\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_service_webhook_service\"");
    await queryRunner.query("DROP TABLE \"service_webhook\"");
  }
}
