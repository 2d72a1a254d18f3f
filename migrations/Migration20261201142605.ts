import { Migration } from '@mikro-orm/migrations';

export class Migration20261201142605 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "sso_token_uses" ("organization_id" uuid not null, "jti" varchar(128) not null, "expires_at" timestamptz not null, constraint "sso_token_uses_pkey" primary key ("organization_id", "jti"));`);
    this.addSql(`create index "sso_token_uses_expires_at_index" on "sso_token_uses" ("expires_at");`);

    this.addSql(`alter table "sso_token_uses" add constraint "sso_token_uses_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "organizations" add column "sso_audience" varchar(500) null, add column "sso_issuer" varchar(500) null;`);

    this.addSql(`alter table "users" add column "managed_by_organization_id" uuid null;`);
    this.addSql(`alter table "users" add constraint "users_managed_by_organization_id_foreign" foreign key ("managed_by_organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "sso_token_uses" cascade;`);

    this.addSql(`alter table "users" drop constraint "users_managed_by_organization_id_foreign";`);

    this.addSql(`alter table "organizations" drop column "sso_audience", drop column "sso_issuer";`);

    this.addSql(`alter table "users" drop column "managed_by_organization_id";`);
  }

}
