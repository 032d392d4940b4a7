import { MigrationInterface, QueryRunner } from 'typeorm';

export class WebdavLocksAndProperties1795441381027 implements MigrationInterface {
  name = 'WebdavLocksAndProperties1795441381027';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"dav_lock\" (\"token\" character varying(100) NOT NULL, \"service_id\" uuid NOT NULL, \"path\" text NOT NULL, \"scope\" character varying(10) NOT NULL, \"deep\" boolean NOT NULL, \"owner\" text, \"key_id\" uuid NOT NULL, \"timeout_seconds\" integer NOT NULL, \"expires_at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_1ccab85439782fc9458f0e57a5e\" PRIMARY KEY (\"token\"))");
    await queryRunner.query("CREATE INDEX \"idx_dav_lock_expires\" ON \"dav_lock\"  (\"expires_at\") ");
    await queryRunner.query("CREATE INDEX \"idx_dav_lock_service_path\" ON \"dav_lock\"  (\"service_id\", \"path\") ");
    await queryRunner.query("CREATE TABLE \"dav_property\" (\"id\" uuid NOT NULL, \"mfile_id\" uuid, \"mfolder_id\" uuid, \"name\" text NOT NULL, \"xml\" text NOT NULL, CONSTRAINT \"PK_8f675ad2d1e58099062054be7d2\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE UNIQUE INDEX \"uq_dav_property_mfolder\" ON \"dav_property\"  (\"mfolder_id\", \"name\") WHERE mfolder_id IS NOT NULL");
    await queryRunner.query("CREATE UNIQUE INDEX \"uq_dav_property_mfile\" ON \"dav_property\"  (\"mfile_id\", \"name\") WHERE mfile_id IS NOT NULL");
    await queryRunner.query("ALTER TABLE \"dav_lock\" ADD CONSTRAINT \"FK_86144d1d5b116557dcc24c0c927\" FOREIGN KEY (\"service_id\") REFERENCES \"service\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"dav_property\" ADD CONSTRAINT \"FK_007ed3e3c58e1a46dccf6a58c7d\" FOREIGN KEY (\"mfile_id\") REFERENCES \"mfile\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"dav_property\" ADD CONSTRAINT \"FK_87c19c9c94a10c41ff12b9488aa\" FOREIGN KEY (\"mfolder_id\") REFERENCES \"mfolder\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"dav_property\" DROP CONSTRAINT \"FK_87c19c9c94a10c41ff12b9488aa\"");
    await queryRunner.query("ALTER TABLE \"dav_property\" DROP CONSTRAINT \"FK_007ed3e3c58e1a46dccf6a58c7d\"");
    await queryRunner.query("ALTER TABLE \"dav_lock\" DROP CONSTRAINT \"FK_86144d1d5b116557dcc24c0c927\"");
    await queryRunner.query("DROP INDEX \"public\".\"uq_dav_property_mfile\"");
    await queryRunner.query("DROP INDEX \"public\".\"uq_dav_property_mfolder\"");
    await queryRunner.query("DROP TABLE \"dav_property\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_dav_lock_service_path\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_dav_lock_expires\"");
    await queryRunner.query("DROP TABLE \"dav_lock\"");
  }
}
