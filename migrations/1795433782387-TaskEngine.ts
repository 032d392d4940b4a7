import { MigrationInterface, QueryRunner } from 'typeorm';

export class TaskEngine1795433782387 implements MigrationInterface {
  name = 'TaskEngine1795433782387';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"job_dependency\" (\"job_id\" uuid NOT NULL, \"prerequisite_id\" uuid NOT NULL, CONSTRAINT \"PK_316d65e8e057b02f05b6ef0a781\" PRIMARY KEY (\"job_id\", \"prerequisite_id\"))");
    await queryRunner.query("CREATE INDEX \"idx_job_dependency_prerequisite\" ON \"job_dependency\"  (\"prerequisite_id\") ");
    await queryRunner.query("CREATE TABLE \"service_profile\" (\"service_id\" uuid NOT NULL, \"definition\" jsonb NOT NULL, \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_f22261f0798ba466796e1e83dfd\" PRIMARY KEY (\"service_id\"))");
    await queryRunner.query("ALTER TABLE \"job\" ADD \"run_id\" uuid");
    await queryRunner.query("ALTER TABLE \"job\" ADD \"step\" character varying(100)");
    await queryRunner.query("ALTER TABLE \"job\" ADD \"condition\" jsonb");
    await queryRunner.query("CREATE INDEX \"idx_job_queued\" ON \"job\"  (\"state\", \"updated_at\") WHERE state = 'queued'");
    await queryRunner.query("CREATE INDEX \"idx_job_run\" ON \"job\"  (\"run_id\") ");
    await queryRunner.query("ALTER TABLE \"job_dependency\" ADD CONSTRAINT \"FK_40ce29577b85a3af79e98aca16d\" FOREIGN KEY (\"job_id\") REFERENCES \"job\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"job_dependency\" ADD CONSTRAINT \"FK_518141b2a8c9546190a2009b6e3\" FOREIGN KEY (\"prerequisite_id\") REFERENCES \"job\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"service_profile\" ADD CONSTRAINT \"FK_f22261f0798ba466796e1e83dfd\" FOREIGN KEY (\"service_id\") REFERENCES \"service\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"service_profile\" DROP CONSTRAINT \"FK_f22261f0798ba466796e1e83dfd\"");
    await queryRunner.query("ALTER TABLE \"job_dependency\" DROP CONSTRAINT \"FK_518141b2a8c9546190a2009b6e3\"");
    await queryRunner.query("ALTER TABLE \"job_dependency\" DROP CONSTRAINT \"FK_40ce29577b85a3af79e98aca16d\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_job_run\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_job_queued\"");
    await queryRunner.query("ALTER TABLE \"job\" DROP COLUMN \"condition\"");
    await queryRunner.query("ALTER TABLE \"job\" DROP COLUMN \"step\"");
    await queryRunner.query("ALTER TABLE \"job\" DROP COLUMN \"run_id\"");
    await queryRunner.query("DROP TABLE \"service_profile\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_job_dependency_prerequisite\"");
    await queryRunner.query("DROP TABLE \"job_dependency\"");
  }
}
