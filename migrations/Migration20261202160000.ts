import { Migration } from '@mikro-orm/migrations';

/**
 * Event values are bounded at ±1e15 from now on (sdk/schemas.ts MAX_EVENT_VALUE); values stored
 * before are clamped to it, so that no rollup or metrics read can overflow a double summing them.
 */
export class Migration20261202160000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`update "tracked_events" set "value" = greatest(least("value", 1e15), -1e15) where abs("value") > 1e15;`);
    this.addSql(`update "tracked_event_counts" set "value_sum" = greatest(least("value_sum", 1e18), -1e18) where abs("value_sum") > 1e18;`);
  }

  override async down(): Promise<void> {
    // Clamped values cannot be restored.
  }
}
