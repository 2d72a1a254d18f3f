import { Migration } from '@mikro-orm/migrations';

export class Migration20261123215328 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "audit_entries" ("id" uuid not null, "organization_id" uuid not null, "actor_user_id" uuid null, "actor_token_id" uuid null, "principal_kind" varchar(30) not null, "action" varchar(100) not null, "resource_type" varchar(50) not null, "resource_id" varchar(200) null, "project_id" uuid null, "environment_id" uuid null, "details" jsonb not null default '{}', "created_at" timestamptz not null, constraint "audit_entries_pkey" primary key ("id"));`);
    this.addSql(`create index "audit_entries_organization_id_index" on "audit_entries" ("organization_id");`);
    this.addSql(`create index "audit_entries_created_at_index" on "audit_entries" ("created_at");`);

    this.addSql(`create table "organizations" ("id" uuid not null, "name" varchar(200) not null, "slug" varchar(100) not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "organizations_pkey" primary key ("id"));`);
    this.addSql(`alter table "organizations" add constraint "organizations_slug_unique" unique ("slug");`);

    this.addSql(`create table "projects" ("id" uuid not null, "organization_id" uuid not null, "name" varchar(200) not null, "slug" varchar(100) not null, "description" text not null default '', "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "projects_pkey" primary key ("id"));`);
    this.addSql(`alter table "projects" add constraint "projects_organization_id_slug_unique" unique ("organization_id", "slug");`);

    this.addSql(`create table "environments" ("id" uuid not null, "project_id" uuid not null, "key" varchar(100) not null, "name" varchar(200) not null, "color" varchar(20) null, "sort_order" int not null, "version" int not null default 1, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "environments_pkey" primary key ("id"));`);
    this.addSql(`alter table "environments" add constraint "environments_project_id_key_unique" unique ("project_id", "key");`);

    this.addSql(`create table "users" ("id" uuid not null, "email" varchar(320) not null, "name" varchar(200) not null, "password_hash" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "users_pkey" primary key ("id"));`);
    this.addSql(`alter table "users" add constraint "users_email_unique" unique ("email");`);

    this.addSql(`create table "refresh_tokens" ("id" uuid not null, "family_id" uuid not null, "user_id" uuid not null, "organization_id" uuid not null, "expires_at" timestamptz not null, "used_at" timestamptz null, "revoked_at" timestamptz null, "created_at" timestamptz not null, constraint "refresh_tokens_pkey" primary key ("id"));`);
    this.addSql(`create index "refresh_tokens_family_id_index" on "refresh_tokens" ("family_id");`);

    this.addSql(`create table "memberships" ("id" uuid not null, "organization_id" uuid not null, "user_id" uuid not null, "role" varchar(20) not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "memberships_pkey" primary key ("id"));`);
    this.addSql(`create index "memberships_user_id_index" on "memberships" ("user_id");`);
    this.addSql(`alter table "memberships" add constraint "memberships_organization_id_user_id_unique" unique ("organization_id", "user_id");`);

    this.addSql(`alter table "projects" add constraint "projects_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "environments" add constraint "environments_project_id_foreign" foreign key ("project_id") references "projects" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "refresh_tokens" add constraint "refresh_tokens_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "refresh_tokens" add constraint "refresh_tokens_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "memberships" add constraint "memberships_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "memberships" add constraint "memberships_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`);
  }

}
