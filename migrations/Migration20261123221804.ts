import { Migration } from '@mikro-orm/migrations';

export class Migration20261123221804 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "evaluation_counts" ("environment_id" uuid not null, "flag_key" varchar(100) not null, "variation" int not null, "minute" timestamptz not null, "count" bigint not null, constraint "evaluation_counts_pkey" primary key ("environment_id", "flag_key", "variation", "minute"));`);

    this.addSql(`create table "tracked_events" ("id" bigserial primary key, "environment_id" uuid not null, "kind" varchar(20) not null, "flag_key" varchar(100) null, "variation" int null, "event_key" varchar(200) null, "value" double precision null, "data" jsonb null, "context_key" varchar(256) not null, "occurred_at" timestamptz not null, "received_at" timestamptz not null);`);
    this.addSql(`create index "tracked_events_environment_id_occurred_at_index" on "tracked_events" ("environment_id", "occurred_at");`);

    this.addSql(`alter table "evaluation_counts" add constraint "evaluation_counts_environment_id_foreign" foreign key ("environment_id") references "environments" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "tracked_events" add constraint "tracked_events_environment_id_foreign" foreign key ("environment_id") references "environments" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "evaluation_counts" cascade;`);

    this.addSql(`drop table if exists "tracked_events" cascade;`);
  }

}
