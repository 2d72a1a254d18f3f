import { Migration } from '@mikro-orm/migrations';

export class Migration20261201163251 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "evaluation_last_seen" ("environment_id" uuid not null, "flag_key" varchar(100) not null, "variation" int not null, "last_evaluated_at" timestamptz not null, constraint "evaluation_last_seen_pkey" primary key ("environment_id", "flag_key", "variation"));`);

    this.addSql(`create table "tracked_event_counts" ("environment_id" uuid not null, "kind" varchar(20) not null, "flag_key" varchar(100) not null, "variation" int not null, "event_key" varchar(200) not null, "bucket" timestamptz not null, "count" bigint not null, "value_sum" double precision not null default 0, constraint "tracked_event_counts_pkey" primary key ("environment_id", "kind", "flag_key", "variation", "event_key", "bucket"));`);
    this.addSql(`create index "tracked_event_counts_bucket_index" on "tracked_event_counts" ("bucket");`);

    this.addSql(`create table "webhooks" ("id" uuid not null, "organization_id" uuid not null, "url" text not null, "description" text not null default '', "event_types" text[] not null, "project_ids" uuid[] null, "environment_ids" uuid[] null, "active" boolean not null default true, "secret_sealed" text not null, "previous_secret_sealed" text null, "previous_secret_expires_at" timestamptz null, "failing_since" timestamptz null, "disabled_at" timestamptz null, "disabled_reason" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "webhooks_pkey" primary key ("id"));`);
    this.addSql(`create index "webhooks_organization_id_index" on "webhooks" ("organization_id");`);

    this.addSql(`create table "webhook_events" ("id" uuid not null, "organization_id" uuid not null, "type" varchar(100) not null, "payload" jsonb not null, "created_at" timestamptz not null, constraint "webhook_events_pkey" primary key ("id"));`);
    this.addSql(`create index "webhook_events_organization_id_index" on "webhook_events" ("organization_id");`);
    this.addSql(`create index "webhook_events_created_at_index" on "webhook_events" ("created_at");`);

    this.addSql(`create table "webhook_deliveries" ("id" uuid not null, "seq" bigserial not null, "webhook_id" uuid not null, "event_id" uuid not null, "status" varchar(20) not null, "attempts" int not null default 0, "next_attempt_at" timestamptz not null, "last_attempt_at" timestamptz null, "last_status_code" int null, "last_error" text null, "delivered_at" timestamptz null, "created_at" timestamptz not null, constraint "webhook_deliveries_pkey" primary key ("id"));`);
    this.addSql(`create index "webhook_deliveries_event_id_index" on "webhook_deliveries" ("event_id");`);
    this.addSql(`create index "webhook_deliveries_created_at_index" on "webhook_deliveries" ("created_at");`);
    this.addSql(`create index "webhook_deliveries_webhook_id_status_seq_index" on "webhook_deliveries" ("webhook_id", "status", "seq");`);
    this.addSql(`create index "webhook_deliveries_status_next_attempt_at_index" on "webhook_deliveries" ("status", "next_attempt_at");`);

    this.addSql(`create table "webhook_attempts" ("id" uuid not null, "delivery_id" uuid not null, "attempt" int not null, "started_at" timestamptz not null, "status_code" int null, "latency_ms" int not null, "error" text null, "response_body" text null, constraint "webhook_attempts_pkey" primary key ("id"));`);
    this.addSql(`create index "webhook_attempts_delivery_id_index" on "webhook_attempts" ("delivery_id");`);

    this.addSql(`alter table "evaluation_last_seen" add constraint "evaluation_last_seen_environment_id_foreign" foreign key ("environment_id") references "environments" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "tracked_event_counts" add constraint "tracked_event_counts_environment_id_foreign" foreign key ("environment_id") references "environments" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "webhooks" add constraint "webhooks_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "webhook_events" add constraint "webhook_events_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "webhook_deliveries" add constraint "webhook_deliveries_webhook_id_foreign" foreign key ("webhook_id") references "webhooks" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "webhook_deliveries" add constraint "webhook_deliveries_event_id_foreign" foreign key ("event_id") references "webhook_events" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "webhook_attempts" add constraint "webhook_attempts_delivery_id_foreign" foreign key ("delivery_id") references "webhook_deliveries" ("id") on update cascade on delete cascade;`);

    this.addSql(`create index "evaluation_counts_minute_index" on "evaluation_counts" ("minute");`);

    this.addSql(`create index "tracked_events_occurred_at_index" on "tracked_events" ("occurred_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "webhook_deliveries" drop constraint "webhook_deliveries_webhook_id_foreign";`);

    this.addSql(`alter table "webhook_deliveries" drop constraint "webhook_deliveries_event_id_foreign";`);

    this.addSql(`alter table "webhook_attempts" drop constraint "webhook_attempts_delivery_id_foreign";`);

    this.addSql(`drop table if exists "evaluation_last_seen" cascade;`);

    this.addSql(`drop table if exists "tracked_event_counts" cascade;`);

    this.addSql(`drop table if exists "webhooks" cascade;`);

    this.addSql(`drop table if exists "webhook_events" cascade;`);

    this.addSql(`drop table if exists "webhook_deliveries" cascade;`);

    this.addSql(`drop table if exists "webhook_attempts" cascade;`);

    this.addSql(`drop index "evaluation_counts_minute_index";`);

    this.addSql(`drop index "tracked_events_occurred_at_index";`);
  }

}
