/** A header (or connection parameter) value when it is one non-empty string, else undefined. */
export function headerValue(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
