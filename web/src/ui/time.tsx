/**
 * A moment in the person's own time zone, with its UTC value on hover and for screen readers
 * through the <time> element's machine-readable value.
 */
export function When({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span class="muted">—</span>;
  const date = new Date(iso);
  return (
    <time dateTime={date.toISOString()} title={`${utc(date)} UTC`}>
      {date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}
    </time>
  );
}

/** `2026-12-01 17:30` in UTC. */
export const utc = (date: Date) => date.toISOString().slice(0, 16).replace('T', ' ');

/** The person's time zone, as the browser names it (Europe/Amsterdam). */
export const localZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

/** The value of an <input type="datetime-local"> (local wall-clock time) as an instant. */
export function fromLocalInput(value: string): Date | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** An instant as an <input type="datetime-local"> value in local time. */
export function toLocalInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A date and time in the person's zone, with what it is in UTC beneath. */
export function LocalTimeInput(props: { label: string; value: string; onInput: (value: string) => void }) {
  const at = fromLocalInput(props.value);
  return (
    <>
      <label>
        {props.label} (your time, {localZone()})
        <input
          type="datetime-local"
          required
          value={props.value}
          onInput={(e) => props.onInput(e.currentTarget.value)}
        />
      </label>
      <p class="muted" data-utc>
        {at ? `That is ${utc(at)} UTC.` : 'Pick a date and time.'}
      </p>
    </>
  );
}
