import { useEffect, useState } from 'preact/hooks';

/**
 * One live region for what an action did: failures stay until dismissed (the server's words),
 * confirmations fade. Views report here whatever has no form of its own to show it next to.
 */
export interface Notice {
  id: number;
  kind: 'error' | 'ok';
  text: string;
  /** Where to go next (the approval request a change became, …). */
  link?: NoticeLink;
}

export interface NoticeLink {
  href: string;
  label: string;
}

type Listener = (notices: Notice[]) => void;
let notices: Notice[] = [];
let next = 1;
const listeners = new Set<Listener>();
const emit = () => {
  for (const l of listeners) l(notices);
};

export const notify = {
  error(text: string) {
    notices = [...notices, { id: next++, kind: 'error', text }];
    emit();
  },
  ok(text: string, link?: NoticeLink) {
    const id = next++;
    notices = [...notices, { id, kind: 'ok', text, link }];
    emit();
    // A notice with somewhere to go stays long enough to be followed.
    setTimeout(() => dismiss(id), link ? 15_000 : 4000);
  },
};

function dismiss(id: number) {
  notices = notices.filter((n) => n.id !== id);
  emit();
}

export function Notices() {
  const [list, setList] = useState<Notice[]>(notices);
  useEffect(() => {
    listeners.add(setList);
    return () => void listeners.delete(setList);
  }, []);
  return (
    <div class="notices" aria-live="polite">
      {list.map((n) => (
        <div key={n.id} class={`notice notice-${n.kind}`} role={n.kind === 'error' ? 'alert' : 'status'}>
          <span>{n.text}</span>
          {n.link && <a href={n.link.href}>{n.link.label}</a>}
          <button type="button" class="link" onClick={() => dismiss(n.id)} aria-label="Dismiss">
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
