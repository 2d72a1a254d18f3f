/**
 * A PostgreSQL array literal for a `?::uuid[]` binding: knex would otherwise expand a JS array
 * into a comma-separated list of parameters.
 */
export function uuidArray(ids: readonly string[]): string {
  for (const id of ids) if (!/^[0-9a-f-]{36}$/i.test(id)) throw new Error(`not a uuid: ${id}`);
  return `{${ids.join(',')}}`;
}

/** A PostgreSQL array literal of strings for a `?::text[]` binding, every element quoted. */
export function textArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}
