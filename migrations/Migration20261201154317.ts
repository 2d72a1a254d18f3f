import { Migration } from '@mikro-orm/migrations';

export class Migration20261201154317 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "audit_chain_heads" ("organization_id" uuid not null, "seq" int not null, "hash" varchar(64) not null, "last_at" timestamptz not null, constraint "audit_chain_heads_pkey" primary key ("organization_id"));`);

    this.addSql(`create table "invitations" ("id" uuid not null, "organization_id" uuid not null, "email" varchar(320) not null, "role" varchar(20) not null, "token_hash" varchar(64) not null, "invited_by_user_id" uuid null, "invited_by_token_id" uuid null, "expires_at" timestamptz not null, "accepted_at" timestamptz null, "accepted_by_user_id" uuid null, "revoked_at" timestamptz null, "created_at" timestamptz not null, constraint "invitations_pkey" primary key ("id"));`);
    this.addSql(`create index "invitations_organization_id_index" on "invitations" ("organization_id");`);
    this.addSql(`alter table "invitations" add constraint "invitations_token_hash_unique" unique ("token_hash");`);

    this.addSql(`create table "pending_changes" ("id" uuid not null, "organization_id" uuid not null, "project_id" uuid not null, "kind" varchar(30) not null, "state" varchar(20) not null, "flag_id" uuid null, "flag_key" varchar(100) null, "segment_id" uuid null, "segment_key" varchar(100) null, "environment_id" uuid null, "environment_ids" text[] not null default '{}', "base" jsonb not null, "before" jsonb not null, "proposed" jsonb not null, "comment" text null, "author_user_id" uuid null, "author_token_id" uuid null, "author_kind" varchar(30) not null, "required_approvals" int not null, "round" int not null default 1, "apply_at" timestamptz null, "outcome" text null, "resolved_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "pending_changes_pkey" primary key ("id"));`);
    this.addSql(`create index "pending_changes_organization_id_index" on "pending_changes" ("organization_id");`);
    this.addSql(`create index "pending_changes_project_id_index" on "pending_changes" ("project_id");`);
    this.addSql(`create index "pending_changes_flag_id_index" on "pending_changes" ("flag_id");`);

    this.addSql(`create table "pending_reviews" ("id" uuid not null, "change_id" uuid not null, "round" int not null, "reviewer_user_id" uuid not null, "reviewer_token_id" uuid null, "decision" varchar(10) not null, "comment" text null, "created_at" timestamptz not null, constraint "pending_reviews_pkey" primary key ("id"));`);
    this.addSql(`alter table "pending_reviews" add constraint "pending_reviews_change_id_round_reviewer_user_id_unique" unique ("change_id", "round", "reviewer_user_id");`);

    this.addSql(`alter table "invitations" add constraint "invitations_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "pending_changes" add constraint "pending_changes_project_id_foreign" foreign key ("project_id") references "projects" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "pending_changes" add constraint "pending_changes_environment_id_foreign" foreign key ("environment_id") references "environments" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "pending_reviews" add constraint "pending_reviews_change_id_foreign" foreign key ("change_id") references "pending_changes" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "audit_entries" add column "request_id" varchar(100) null, add column "client_ip" varchar(64) null, add column "seq" int null, add column "prev_hash" varchar(64) null, add column "hash" varchar(64) null;`);
    this.addSql(`create index "audit_entries_organization_id_created_at_index" on "audit_entries" ("organization_id", "created_at");`);
    this.addSql(`alter table "audit_entries" add constraint "audit_entries_organization_id_seq_unique" unique ("organization_id", "seq");`);

    this.addSql(`alter table "environments" add column "requires_approval" boolean not null default false, add column "min_approvals" int not null default 1;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "pending_reviews" drop constraint "pending_reviews_change_id_foreign";`);

    this.addSql(`drop table if exists "audit_chain_heads" cascade;`);

    this.addSql(`drop table if exists "invitations" cascade;`);

    this.addSql(`drop table if exists "pending_changes" cascade;`);

    this.addSql(`drop table if exists "pending_reviews" cascade;`);

    this.addSql(`drop index "audit_entries_organization_id_created_at_index";`);
    this.addSql(`alter table "audit_entries" drop constraint "audit_entries_organization_id_seq_unique";`);
    this.addSql(`alter table "audit_entries" drop column "request_id", drop column "client_ip", drop column "seq", drop column "prev_hash", drop column "hash";`);

    this.addSql(`alter table "environments" drop column "requires_approval", drop column "min_approvals";`);
  }

}
