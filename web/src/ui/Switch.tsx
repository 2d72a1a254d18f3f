/** An on/off switch: a button with role=switch, operable by keyboard like any button. */
export function Switch(props: {
  checked: boolean;
  label: string;
  disabled?: boolean;
  busy?: boolean;
  onChange?: (next: boolean) => void;
}) {
  return (
    <button
      type="button"
      role="switch"
      class="switch"
      aria-checked={props.checked}
      aria-label={props.label}
      aria-busy={props.busy || undefined}
      // Busy keeps focus where it is (a disabled button would drop it) but takes no second click.
      aria-disabled={props.busy || undefined}
      disabled={props.disabled}
      onClick={() => {
        if (!props.busy) props.onChange?.(!props.checked);
      }}
    >
      <span class="switch-knob" aria-hidden="true" />
      <span class="switch-text">{props.checked ? 'On' : 'Off'}</span>
    </button>
  );
}
