import { when } from '../../ui/Page.tsx';
import { ago } from '../../ui/time.ts';

/** When a flag was last evaluated anywhere, as a hint beside it (shown to metrics:read only). */
export function LastEvaluated({ at }: { at: string | null }) {
  return (
    <span class="muted" data-field="last-evaluated" title={at ? when(at) : undefined}>
      {at ? `evaluated ${ago(at)}` : 'never evaluated'}
    </span>
  );
}
