import { MigrationInterface, QueryRunner } from 'typeorm';

export class UsersAndSessions1795457611751 implements MigrationInterface {
  name = 'UsersAndSessions1795457611751';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"app_user\" (\"id\" uuid NOT NULL, \"username\" character varying(64), \"email\" character varying(320), \"display_name\" character varying(200), \"password_hash\" text, \"oidc_issuer\" text, \"oidc_subject\" text, \"disabled\" boolean NOT NULL DEFAULT false, \"last_login_at\" TIMESTAMP WITH TIME ZONE, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_22a5c4a3d9b2fb8e4e73fc4ada1\" PRIMARY KEY (\"id\"))");
    // user names are unique whatever their case (Admin and admin are one account)
    await queryRunner.query('CREATE UNIQUE INDEX "uq_app_user_username" ON "app_user" (lower("username"))');
    await queryRunner.query("CREATE UNIQUE INDEX \"uq_app_user_oidc\" ON \"app_user\"  (\"oidc_issuer\", \"oidc_subject\") ");
    await queryRunner.query("CREATE TABLE \"user_key\" (\"user_id\" uuid NOT NULL, \"key_id\" uuid NOT NULL, \"added_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_cf6704cc15aed79bf5c6da8b0c9\" PRIMARY KEY (\"user_id\", \"key_id\"))");
    await queryRunner.query("CREATE INDEX \"idx_user_key_key\" ON \"user_key\"  (\"key_id\") ");
    await queryRunner.query("ALTER TABLE \"user_key\" ADD CONSTRAINT \"FK_a389817475d2824dd5ddca97ac4\" FOREIGN KEY (\"user_id\") REFERENCES \"app_user\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"user_key\" ADD CONSTRAINT \"FK_34609ed7b400658e275bf01a2bf\" FOREIGN KEY (\"key_id\") REFERENCES \"key\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"user_key\" DROP CONSTRAINT \"FK_34609ed7b400658e275bf01a2bf\"");
    await queryRunner.query("ALTER TABLE \"user_key\" DROP CONSTRAINT \"FK_a389817475d2824dd5ddca97ac4\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_user_key_key\"");
    await queryRunner.query("DROP TABLE \"user_key\"");
    await queryRunner.query("DROP INDEX \"public\".\"uq_app_user_oidc\"");
    await queryRunner.query('DROP INDEX "public"."uq_app_user_username"');
    await queryRunner.query("DROP TABLE \"app_user\"");
  }
}
