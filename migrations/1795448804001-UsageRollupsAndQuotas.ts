import { MigrationInterface, QueryRunner } from 'typeorm';

export class UsageRollupsAndQuotas1795448804001 implements MigrationInterface {
  name = 'UsageRollupsAndQuotas1795448804001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"usage_rollup\" (\"grain\" character varying(5) NOT NULL, \"service_id\" uuid NOT NULL, \"metric\" character varying(200) NOT NULL, \"bucket\" TIMESTAMP WITH TIME ZONE NOT NULL, \"container_id\" uuid NOT NULL, \"sum\" double precision NOT NULL, \"count\" bigint NOT NULL, \"min\" double precision NOT NULL, \"max\" double precision NOT NULL, \"sum_sq\" double precision NOT NULL, \"sum_rest\" double precision NOT NULL, CONSTRAINT \"PK_78795d0373477284feca4182d63\" PRIMARY KEY (\"grain\", \"service_id\", \"metric\", \"bucket\", \"container_id\"))");
    await queryRunner.query("CREATE INDEX \"idx_usage_rollup_metric\" ON \"usage_rollup\"  (\"grain\", \"metric\", \"bucket\") ");
    await queryRunner.query("CREATE INDEX \"idx_usage_rollup_container\" ON \"usage_rollup\"  (\"grain\", \"container_id\", \"metric\", \"bucket\") ");
    await queryRunner.query("ALTER TABLE \"container\" ADD \"suspended\" boolean NOT NULL DEFAULT false");
    await queryRunner.query("ALTER TABLE \"container\" ADD \"disk_quota\" bigint");
    await queryRunner.query("ALTER TABLE \"container\" ADD \"ingest_quota\" bigint");
    await queryRunner.query("ALTER TABLE \"container\" ADD \"jobruntime_quota\" double precision");
    await queryRunner.query("ALTER TABLE \"service\" ADD \"ingest_quota\" bigint");
    await queryRunner.query("ALTER TABLE \"service\" ADD \"jobruntime_quota\" double precision");
    await queryRunner.query("ALTER TABLE \"usage\" ADD \"rolled_up\" boolean NOT NULL DEFAULT false");
    await queryRunner.query("CREATE INDEX \"idx_usage_unrolled\" ON \"usage\"  (\"id\") WHERE NOT rolled_up");
    await queryRunner.query("CREATE INDEX \"idx_usage_metric_time\" ON \"usage\"  (\"metric\", \"recorded_at\") ");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"public\".\"idx_usage_metric_time\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_usage_unrolled\"");
    await queryRunner.query("ALTER TABLE \"usage\" DROP COLUMN \"rolled_up\"");
    await queryRunner.query("ALTER TABLE \"service\" DROP COLUMN \"jobruntime_quota\"");
    await queryRunner.query("ALTER TABLE \"service\" DROP COLUMN \"ingest_quota\"");
    await queryRunner.query("ALTER TABLE \"container\" DROP COLUMN \"jobruntime_quota\"");
    await queryRunner.query("ALTER TABLE \"container\" DROP COLUMN \"ingest_quota\"");
    await queryRunner.query("ALTER TABLE \"container\" DROP COLUMN \"disk_quota\"");
    await queryRunner.query("ALTER TABLE \"container\" DROP COLUMN \"suspended\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_usage_rollup_container\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_usage_rollup_metric\"");
    await queryRunner.query("DROP TABLE \"usage_rollup\"");
  }
}
