import { useState } from 'preact/hooks';
import type { ResultOf } from '../../graphql/index.ts';
import { FormActions } from '../../ui/Dialog.tsx';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import type { WebhookChoicesQuery } from './documents.ts';
import { EventTypesPicker } from './EventTypesPicker.tsx';

export interface WebhookDraft {
  url: string;
  description: string;
  eventTypes: string[];
  projectIds: string[];
  environmentIds: string[];
}

type Choices = ResultOf<typeof WebhookChoicesQuery>;

const selected = (select: HTMLSelectElement) => [...select.selectedOptions].map((o) => o.value);

/** URL, description, events and the projects/environments to narrow to: creating and editing alike. */
export function WebhookForm(props: {
  initial: WebhookDraft;
  choices: Choices;
  submitLabel: string;
  busy: boolean;
  error: unknown;
  onSubmit: (draft: WebhookDraft) => void;
  onCancel: () => void;
}) {
  const [draft, setDraft] = useState(props.initial);
  const set = (patch: Partial<WebhookDraft>) => setDraft((d) => ({ ...d, ...patch }));
  const projects = props.choices.projects.data;
  return (
    <form
      class="stack"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit(draft);
      }}
    >
      <label>
        URL
        <input
          type="url"
          required
          value={draft.url}
          placeholder="https://hooks.example.com/vexil"
          onInput={(e) => set({ url: e.currentTarget.value })}
        />
      </label>
      <label>
        Description
        <input value={draft.description} onInput={(e) => set({ description: e.currentTarget.value })} />
      </label>
      <EventTypesPicker
        types={props.choices.webhookEventTypes}
        value={draft.eventTypes}
        onChange={(eventTypes) => set({ eventTypes })}
      />
      <div class="grid-2">
        <label>
          Only these projects (none selected: every project)
          <select
            multiple
            size={Math.min(5, Math.max(2, projects.length))}
            onChange={(e) => set({ projectIds: selected(e.currentTarget) })}
          >
            {projects.map((p) => (
              <option key={p.id} value={p.id} selected={draft.projectIds.includes(p.id)}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Only these environments (none selected: every environment)
          <select
            multiple
            size={Math.min(
              6,
              Math.max(
                2,
                projects.reduce((n, p) => n + p.environments.length + 1, 0),
              ),
            )}
            onChange={(e) => set({ environmentIds: selected(e.currentTarget) })}
          >
            {projects.map((p) => (
              <optgroup key={p.id} label={p.name}>
                {p.environments.map((env) => (
                  <option key={env.id} value={env.id} selected={draft.environmentIds.includes(env.id)}>
                    {p.name} / {env.name}
                  </option>
                ))}
              </optgroup>
            ))}
          </select>
        </label>
      </div>
      <ErrorNote error={props.error} />
      <FormActions
        submitLabel={props.submitLabel}
        busy={props.busy}
        disabled={draft.eventTypes.length === 0}
        onCancel={props.onCancel}
      />
    </form>
  );
}
