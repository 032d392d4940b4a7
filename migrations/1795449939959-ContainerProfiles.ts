import { MigrationInterface, QueryRunner } from 'typeorm';

export class ContainerProfiles1795449939959 implements MigrationInterface {
  name = 'ContainerProfiles1795449939959';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"container_profile\" (\"container_id\" uuid NOT NULL, \"name\" character varying(100) NOT NULL, \"definition\" jsonb NOT NULL, \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_69591de0c4944ddec1f97a4b363\" PRIMARY KEY (\"container_id\", \"name\"))");
    await queryRunner.query("ALTER TABLE \"service\" ADD \"profile\" character varying(100)");
    await queryRunner.query("ALTER TABLE \"container_profile\" ADD CONSTRAINT \"FK_474a8d66233c09d328d9549ac1b\" FOREIGN KEY (\"container_id\") REFERENCES \"container\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"container_profile\" DROP CONSTRAINT \"FK_474a8d66233c09d328d9549ac1b\"");
    await queryRunner.query("ALTER TABLE \"service\" DROP COLUMN \"profile\"");
    await queryRunner.query("DROP TABLE \"container_profile\"");
  }
}
