import { Migration } from '@mikro-orm/migrations';

export class Migration20261123220444 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "sdk_keys" ("id" uuid not null, "environment_id" uuid not null, "kind" varchar(10) not null, "name" varchar(200) not null, "key_hash" varchar(64) not null, "masked" varchar(40) not null, "public_value" varchar(64) null, "authorized_origins" jsonb not null default '[]', "created_at" timestamptz not null, "created_by" uuid null, "last_used_at" timestamptz null, "revoked_at" timestamptz null, "expires_at" timestamptz null, constraint "sdk_keys_pkey" primary key ("id"));`);
    this.addSql(`alter table "sdk_keys" add constraint "sdk_keys_key_hash_unique" unique ("key_hash");`);

    this.addSql(`create table "access_tokens" ("id" uuid not null, "organization_id" uuid not null, "kind" varchar(10) not null, "name" varchar(200) not null, "token_hash" varchar(64) not null, "masked" varchar(40) not null, "user_id" uuid null, "scopes" jsonb not null, "environment_ids" jsonb null, "active" boolean not null default true, "created_at" timestamptz not null, "updated_at" timestamptz not null, "last_used_at" timestamptz null, constraint "access_tokens_pkey" primary key ("id"));`);
    this.addSql(`alter table "access_tokens" add constraint "access_tokens_token_hash_unique" unique ("token_hash");`);

    this.addSql(`alter table "sdk_keys" add constraint "sdk_keys_environment_id_foreign" foreign key ("environment_id") references "environments" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "access_tokens" add constraint "access_tokens_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "access_tokens" add constraint "access_tokens_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete set null;`);

    this.addSql(`alter table "organizations" add column "sso_secret_encrypted" text null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "sdk_keys" cascade;`);

    this.addSql(`drop table if exists "access_tokens" cascade;`);

    this.addSql(`alter table "organizations" drop column "sso_secret_encrypted";`);
  }

}
