import { Migration } from '@mikro-orm/migrations';

export class Migration20261123220655 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "flags" ("id" uuid not null, "project_id" uuid not null, "key" varchar(100) not null, "name" varchar(200) not null, "description" text not null default '', "kind" varchar(10) not null, "variations" jsonb not null, "tags" text[] not null default '{}', "client_side_available" boolean not null default false, "temporary" boolean not null default true, "salt" varchar(100) null, "archived_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "flags_pkey" primary key ("id"));`);
    this.addSql(`alter table "flags" add constraint "flags_project_id_key_unique" unique ("project_id", "key");`);

    this.addSql(`create table "flag_states" ("id" uuid not null, "flag_id" uuid not null, "environment_id" uuid not null, "on" boolean not null default false, "off_variation" int not null, "targets" jsonb not null, "rules" jsonb not null, "fallthrough" jsonb not null, "prerequisites" jsonb not null, "version" int not null default 1, "updated_at" timestamptz not null, constraint "flag_states_pkey" primary key ("id"));`);
    this.addSql(`create index "flag_states_environment_id_index" on "flag_states" ("environment_id");`);
    this.addSql(`alter table "flag_states" add constraint "flag_states_flag_id_environment_id_unique" unique ("flag_id", "environment_id");`);

    this.addSql(`create table "segments" ("id" uuid not null, "project_id" uuid not null, "key" varchar(100) not null, "name" varchar(200) not null, "description" text not null default '', "included" jsonb not null, "excluded" jsonb not null, "rules" jsonb not null, "version" int not null default 1, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "segments_pkey" primary key ("id"));`);
    this.addSql(`alter table "segments" add constraint "segments_project_id_key_unique" unique ("project_id", "key");`);

    this.addSql(`alter table "flags" add constraint "flags_project_id_foreign" foreign key ("project_id") references "projects" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "flag_states" add constraint "flag_states_flag_id_foreign" foreign key ("flag_id") references "flags" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "flag_states" add constraint "flag_states_environment_id_foreign" foreign key ("environment_id") references "environments" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "segments" add constraint "segments_project_id_foreign" foreign key ("project_id") references "projects" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "flag_states" drop constraint "flag_states_flag_id_foreign";`);

    this.addSql(`drop table if exists "flags" cascade;`);

    this.addSql(`drop table if exists "flag_states" cascade;`);

    this.addSql(`drop table if exists "segments" cascade;`);
  }

}
