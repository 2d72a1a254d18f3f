import { useQuery } from '@urql/preact';
import { graphql, type ResultOf } from '../graphql/index.ts';

/** The project a view works in (by the slug in the URL), with its environments in display order. */
export const ProjectQuery = graphql(`
  query Project($slug: String!) {
    project(slug: $slug) {
      id slug name description
      environments { id key name color sortOrder version }
    }
  }
`);

export type ProjectData = ResultOf<typeof ProjectQuery>['project'];
export type EnvironmentData = ProjectData['environments'][number];

export function useProject(slug: string) {
  const [result, reexecute] = useQuery({ query: ProjectQuery, variables: { slug } });
  return { project: result.data?.project, error: result.error, fetching: result.fetching, reexecute };
}

const LAST = 'vexil.project';
export const lastProject = () => localStorage.getItem(LAST);
export const rememberProject = (slug: string) => localStorage.setItem(LAST, slug);
