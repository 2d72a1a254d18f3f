import type { ComponentChildren } from 'preact';
import { Copyable } from './Copy.tsx';
import { Dialog } from './Dialog.tsx';

/**
 * A secret the server answers only once (a new key, token or signing secret): shown with a copy
 * button until the person says they have it. Vexil keeps only a hash or a sealed copy.
 */
export function ShownOnce(props: {
  title: string;
  values: { value: string; label: string }[] | null;
  onClose: () => void;
  children?: ComponentChildren;
}) {
  return (
    <Dialog open={props.values !== null} title={props.title} onClose={props.onClose}>
      {props.children}
      {props.values?.map((s) => (
        <Copyable key={s.value} value={s.value} label={s.label} />
      ))}
      <div class="actions">
        <button type="button" class="primary" onClick={props.onClose}>
          I have copied it
        </button>
      </div>
    </Dialog>
  );
}
