import { useQuery } from '@urql/preact';
import { graphql } from '../../graphql/index.ts';
import { ErrorNote } from '../../ui/ErrorNote.tsx';

const VerifyAuditChain = graphql(`
  query VerifyAuditChain { verifyAuditChain { valid checked length firstBroken { seq entryId reason } } }
`);

/**
 * Recomputes the organization's hash chain on the server, on request (it reads every entry):
 * verified, or the first entry changed, removed or replaced after it was written.
 */
export function ChainCheck() {
  const [result, run] = useQuery({ query: VerifyAuditChain, pause: true, requestPolicy: 'network-only' });
  const v = result.data?.verifyAuditChain;
  return (
    <div class="chain-check">
      <button type="button" disabled={result.fetching} onClick={() => run({ requestPolicy: 'network-only' })}>
        {result.fetching ? 'Verifying…' : 'Verify the hash chain'}
      </button>
      <span role="status" data-field="chain">
        {v &&
          (v.valid ? (
            <span class="badge ok">Verified: all {v.length} entries are as they were written</span>
          ) : (
            <span class="badge danger">
              Broken at entry #{v.firstBroken?.seq}: {v.firstBroken?.reason} ({v.checked} of {v.length} entries verified
              before it)
            </span>
          ))}
      </span>
      <ErrorNote error={result.error} />
    </div>
  );
}
