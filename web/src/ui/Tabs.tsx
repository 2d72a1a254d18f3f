/**
 * A row of tabs (WAI-ARIA tabs pattern): the arrow keys move between them, the selected one is
 * the only one in the tab order.
 */
export function Tabs(props: {
  label: string;
  value: string;
  tabs: { value: string; label: string }[];
  onChange: (value: string) => void;
}) {
  const index = props.tabs.findIndex((t) => t.value === props.value);
  const onKeyDown = (event: KeyboardEvent) => {
    const delta = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
    if (!delta) return;
    event.preventDefault();
    const next = props.tabs[(index + delta + props.tabs.length) % props.tabs.length];
    if (next) {
      props.onChange(next.value);
      const list = (event.currentTarget as HTMLElement).parentElement;
      requestAnimationFrame(() => list?.querySelector<HTMLElement>('[aria-selected="true"]')?.focus());
    }
  };
  return (
    <div class="tabs" role="tablist" aria-label={props.label}>
      {props.tabs.map((t) => (
        <button
          key={t.value}
          type="button"
          role="tab"
          aria-selected={t.value === props.value}
          tabIndex={t.value === props.value ? 0 : -1}
          onClick={() => props.onChange(t.value)}
          onKeyDown={onKeyDown}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}
