/**
 * The event types a webhook hears, by family: a whole family (`flag.*`, which also covers types
 * added later) or single types of it. Choosing the family makes its single types moot.
 */
export function EventTypesPicker(props: { types: string[]; value: string[]; onChange: (value: string[]) => void }) {
  const chosen = new Set(props.value);
  const families = props.types.filter((t) => t.endsWith('.*')).map((t) => t.slice(0, -2));
  const toggle = (type: string, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(type);
    else next.delete(type);
    if (on && type.endsWith('.*')) {
      const family = type.slice(0, -1);
      for (const t of next) if (t !== type && t.startsWith(family)) next.delete(t);
    }
    props.onChange([...next]);
  };
  return (
    <fieldset class="event-types">
      <legend>Events</legend>
      {families.map((family) => {
        const all = chosen.has(`${family}.*`);
        const singles = props.types.filter((t) => t.startsWith(`${family}.`) && !t.endsWith('.*'));
        return (
          <fieldset key={family} class="event-family">
            <legend class="visually-hidden">{family} events</legend>
            <label class="check family">
              <input type="checkbox" checked={all} onChange={(e) => toggle(`${family}.*`, e.currentTarget.checked)} />{' '}
              every <code>{family}.*</code> event
            </label>
            {singles.map((t) => (
              <label class="check" key={t}>
                <input
                  type="checkbox"
                  checked={all || chosen.has(t)}
                  disabled={all}
                  onChange={(e) => toggle(t, e.currentTarget.checked)}
                />{' '}
                <code>{t}</code>
              </label>
            ))}
          </fieldset>
        );
      })}
    </fieldset>
  );
}
