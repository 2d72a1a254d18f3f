import { useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { graphql } from '../../graphql/index.ts';
import { ErrorNote } from '../../ui/ErrorNote.tsx';
import { Loading, Page } from '../../ui/Page.tsx';
import { Pager } from '../../ui/Pager.tsx';
import { LastEvaluated } from './LastEvaluated.tsx';
import { formatValue } from './values.ts';

const PAGE = 50;
const DAYS = [7, 14, 30, 60, 90, 180] as const;

const ProjectIdQuery = graphql(`query StaleFlagsProject($slug: String!) { project(slug: $slug) { id name } }`);
const StaleFlagsQuery = graphql(`
  query StaleFlags($projectId: ID!, $days: Int!, $offset: Int, $limit: Int) {
    staleFlags(projectId: $projectId, days: $days, offset: $offset, limit: $limit) {
      total hasMore offset
      data { reason lastEvaluatedAt servedVariation flag { id key name variations { name value } } }
    }
  }
`);

/**
 * Candidates for retirement (metrics:read): live flags older than the chosen days that nobody
 * evaluated in that time, or that served one variation to everyone.
 */
export function StaleFlags({ project: slug }: { project: string }) {
  const [days, setDays] = useState(30);
  const [offset, setOffset] = useState(0);
  const [project] = useQuery({ query: ProjectIdQuery, variables: { slug } });
  const projectId = project.data?.project.id;
  const [result] = useQuery({
    query: StaleFlagsQuery,
    variables: { projectId: projectId ?? '', days, offset, limit: PAGE },
    pause: !projectId,
    requestPolicy: 'cache-and-network',
  });
  const page = result.data?.staleFlags;
  return (
    <Page
      title="Stale flags"
      lead="Flags that did nothing for a while: candidates to remove from the code, then archive."
    >
      <div class="filters">
        <label>
          Quiet for at least
          <select
            value={String(days)}
            onChange={(e) => {
              setDays(Number(e.currentTarget.value));
              setOffset(0);
            }}
          >
            {DAYS.map((d) => (
              <option key={d} value={String(d)}>
                {d} days
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorNote error={project.error ?? result.error} />
      {!page ? (
        (project.fetching || result.fetching) && <Loading />
      ) : page.data.length === 0 ? (
        <p class="empty">No stale flags: every flag older than {days} days served more than one variation in them.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">
              Stale flags of {project.data?.project.name}, {page.total} in all
            </caption>
            <thead>
              <tr>
                <th scope="col">Flag</th>
                <th scope="col">Why</th>
                <th scope="col">Last evaluated</th>
              </tr>
            </thead>
            <tbody>
              {page.data.map((s) => {
                const served = s.servedVariation !== null ? s.flag.variations[s.servedVariation] : undefined;
                return (
                  <tr key={s.flag.id} data-flag={s.flag.key}>
                    <th scope="row">
                      <a href={`/p/${slug}/flags/${encodeURIComponent(s.flag.key)}`} class="flag-name">
                        {s.flag.name}
                      </a>
                      <div class="flag-meta">
                        <code>{s.flag.key}</code>
                      </div>
                    </th>
                    <td data-field="reason">
                      {s.reason === 'NOT_EVALUATED'
                        ? `Not evaluated in the last ${days} days`
                        : `Served only ${served ? (served.name ?? formatValue(served.value)) : `variation ${s.servedVariation}`} to everyone for ${days} days`}
                    </td>
                    <td>
                      <LastEvaluated at={s.lastEvaluatedAt ?? null} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <Pager page={page} size={PAGE} onOffset={setOffset} />
    </Page>
  );
}
