import { useState } from 'preact/hooks';
import { Dialog, FormActions } from './Dialog.tsx';

/** A button that asks for a new name in a dialog and hands it over when it changed. */
export function RenameButton(props: { what: string; name: string; onRename: (name: string) => Promise<unknown> }) {
  const [open, setOpen] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const name = String(new FormData(event.currentTarget as HTMLFormElement).get('name')).trim();
    if (name && name !== props.name) await props.onRename(name);
    setOpen(false);
  };
  return (
    <>
      <button type="button" class="small" onClick={() => setOpen(true)}>
        Rename
      </button>
      <Dialog open={open} title={`Rename ${props.what}`} onClose={() => setOpen(false)}>
        <form class="stack" onSubmit={submit}>
          <label>
            Name
            <input name="name" defaultValue={props.name} required />
          </label>
          <FormActions submitLabel="Rename" onCancel={() => setOpen(false)} />
        </form>
      </Dialog>
    </>
  );
}
