import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/**
 * A modal dialog on the native <dialog>: focus moves in and back, Escape closes it, the rest of
 * the page is inert while it is open.
 */
export function Dialog(props: { open: boolean; title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="dialog-title" onClose={props.onClose}>
      {props.open && (
        <>
          <h2 id="dialog-title">{props.title}</h2>
          {props.children}
        </>
      )}
    </dialog>
  );
}

/** Asks before something that cannot be taken back; `confirmLabel` names the action. */
export function Confirm(props: {
  open: boolean;
  title: string;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
  children: ComponentChildren;
}) {
  return (
    <Dialog open={props.open} title={props.title} onClose={props.onCancel}>
      <div class="dialog-body">{props.children}</div>
      <div class="actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button
          type="button"
          class={props.danger ? 'danger' : 'primary'}
          disabled={props.busy}
          onClick={props.onConfirm}
        >
          {props.confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}

/** The buttons under a form in a dialog: Cancel, and the submit button that names the action. */
export function FormActions(props: { submitLabel: string; busy?: boolean; disabled?: boolean; onCancel: () => void }) {
  return (
    <div class="actions">
      <button type="button" onClick={props.onCancel}>
        Cancel
      </button>
      <button type="submit" class="primary" disabled={props.busy || props.disabled}>
        {props.submitLabel}
      </button>
    </div>
  );
}

/** Asks before deleting `item` (a row of a list): its name in the title, `noun` on the button. */
export function ConfirmDelete<T extends { id: string; name: string }>(props: {
  item: T | null;
  noun: string;
  busy?: boolean;
  onDelete: (item: T) => Promise<unknown>;
  onDone: () => void;
  children: ComponentChildren;
}) {
  return (
    <Confirm
      open={props.item !== null}
      title={`Delete ${props.item?.name ?? ''}?`}
      confirmLabel={`Delete ${props.noun}`}
      danger
      busy={props.busy}
      onCancel={props.onDone}
      onConfirm={async () => {
        if (props.item) await props.onDelete(props.item);
        props.onDone();
      }}
    >
      {props.children}
    </Confirm>
  );
}
