import { useQuery } from '@urql/preact';
import { type ComponentChildren, createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { graphql, type ResultOf } from '../graphql/index.ts';
import { ErrorNote } from '../ui/ErrorNote.tsx';
import { Loading } from '../ui/Page.tsx';

/** Who is signed in, where, and what they may do: every control a role may not use is left out. */
export const ViewerQuery = graphql(`
  query Viewer {
    me { kind role permissions user { id name email } }
    organization { id name slug }
    myOrganizations { id name slug }
  }
`);

export type ViewerData = ResultOf<typeof ViewerQuery>;
export interface Viewer extends ViewerData {
  can(permission: string): boolean;
}

const ViewerContext = createContext<Viewer | null>(null);

export function ViewerProvider({ children }: { children: ComponentChildren }) {
  const [result, reexecute] = useQuery({ query: ViewerQuery });
  if (result.error && !result.data) {
    return (
      <main class="centered">
        <ErrorNote error={result.error} />
        <button type="button" onClick={() => reexecute({ requestPolicy: 'network-only' })}>
          Try again
        </button>
      </main>
    );
  }
  if (!result.data) {
    return (
      <main class="centered">
        <Loading />
      </main>
    );
  }
  const permissions = new Set(result.data.me.permissions);
  const viewer: Viewer = { ...result.data, can: (p) => permissions.has(p) };
  return <ViewerContext.Provider value={viewer}>{children}</ViewerContext.Provider>;
}

export function useViewer(): Viewer {
  const viewer = useContext(ViewerContext);
  if (!viewer) throw new Error('useViewer outside ViewerProvider');
  return viewer;
}

/** Shorthand for the permission checks of a view. */
export const useCan = () => useViewer().can;
