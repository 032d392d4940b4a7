import { MigrationInterface, QueryRunner } from 'typeorm';

export class AddUploadSessions1795430619827 implements MigrationInterface {
  name = 'AddUploadSessions1795430619827';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"upload_session\" (\"id\" uuid NOT NULL, \"container_id\" uuid NOT NULL, \"service_id\" uuid NOT NULL, \"folder_id\" uuid NOT NULL, \"name\" character varying(255) NOT NULL, \"protocol\" character varying(10) NOT NULL, \"length\" bigint NOT NULL, \"offset\" bigint NOT NULL DEFAULT '0', \"received\" jsonb NOT NULL DEFAULT '[]', \"md5_state\" bytea, \"sha256_state\" bytea, \"metadata\" jsonb NOT NULL DEFAULT '{}', \"created_by_key_id\" uuid, \"expires_at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"completed_at\" TIMESTAMP WITH TIME ZONE, \"mfile_id\" uuid, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_1d9e587d0bc918af816c9aaefff\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"idx_upload_session_key\" ON \"upload_session\"  (\"created_by_key_id\") ");
    await queryRunner.query("CREATE INDEX \"idx_upload_session_expires\" ON \"upload_session\"  (\"expires_at\") ");
    await queryRunner.query("CREATE INDEX \"idx_upload_session_folder\" ON \"upload_session\"  (\"folder_id\") ");
    await queryRunner.query("CREATE INDEX \"idx_upload_session_container\" ON \"upload_session\"  (\"container_id\") ");
    await queryRunner.query("CREATE INDEX \"idx_upload_session_service\" ON \"upload_session\"  (\"service_id\", \"completed_at\") ");
    await queryRunner.query("ALTER TABLE \"upload_session\" ADD CONSTRAINT \"FK_c4d174a33bab6760f2bd5058729\" FOREIGN KEY (\"container_id\") REFERENCES \"container\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"upload_session\" ADD CONSTRAINT \"FK_3a7b0ec0918e911163a433b06c6\" FOREIGN KEY (\"service_id\") REFERENCES \"service\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"upload_session\" ADD CONSTRAINT \"FK_4149234491b211a02b936d02499\" FOREIGN KEY (\"folder_id\") REFERENCES \"mfolder\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"upload_session\" ADD CONSTRAINT \"FK_c997c6cc8de48ab45010e6c1fcd\" FOREIGN KEY (\"created_by_key_id\") REFERENCES \"key\"(\"id\") ON DELETE SET NULL ON UPDATE NO ACTION");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"upload_session\" DROP CONSTRAINT \"FK_c997c6cc8de48ab45010e6c1fcd\"");
    await queryRunner.query("ALTER TABLE \"upload_session\" DROP CONSTRAINT \"FK_4149234491b211a02b936d02499\"");
    await queryRunner.query("ALTER TABLE \"upload_session\" DROP CONSTRAINT \"FK_3a7b0ec0918e911163a433b06c6\"");
    await queryRunner.query("ALTER TABLE \"upload_session\" DROP CONSTRAINT \"FK_c4d174a33bab6760f2bd5058729\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_upload_session_service\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_upload_session_container\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_upload_session_folder\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_upload_session_expires\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_upload_session_key\"");
    await queryRunner.query("DROP TABLE \"upload_session\"");
  }
}
