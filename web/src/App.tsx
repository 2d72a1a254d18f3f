import { Provider, useQuery } from '@urql/preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { createGraphQLClient } from './graphql/client.ts';
import { session } from './session/session.ts';
import { ViewerProvider } from './session/viewer.tsx';
import { ProjectsQuery, Shell, useCurrentProjectSlug } from './shell/Shell.tsx';
import { ErrorNote } from './ui/ErrorNote.tsx';
import { Loading, Page } from './ui/Page.tsx';
import { Inbox } from './views/approvals/Inbox.tsx';
import { RequestDetail } from './views/approvals/RequestDetail.tsx';
import { AuditLog } from './views/audit/AuditLog.tsx';
import { AcceptInvitation } from './views/auth/AcceptInvitation.tsx';
import { SignIn } from './views/auth/SignIn.tsx';
import { SignUp } from './views/auth/SignUp.tsx';
import { Environments } from './views/environments/Environments.tsx';
import { FlagDetail } from './views/flags/FlagDetail.tsx';
import { FlagList } from './views/flags/FlagList.tsx';
import { StaleFlags } from './views/flags/StaleFlags.tsx';
import { Members } from './views/members/Members.tsx';
import { Organization } from './views/organization/Organization.tsx';
import { Projects } from './views/projects/Projects.tsx';
import { SegmentDetail } from './views/segments/SegmentDetail.tsx';
import { SegmentList } from './views/segments/SegmentList.tsx';
import { AccessTokens } from './views/tokens/AccessTokens.tsx';
import { WebhookDetail } from './views/webhooks/WebhookDetail.tsx';
import { Webhooks } from './views/webhooks/Webhooks.tsx';

function Redirect({ to }: { to: string }) {
  const location = useLocation();
  useEffect(() => location.route(to, true), [to]);
  return <Loading />;
}

/** `/`: the flags of the project used last (or the first one); the project list when there is none. */
function Home() {
  const [projects] = useQuery({ query: ProjectsQuery });
  const slug = useCurrentProjectSlug();
  if (projects.data?.projects.data.length === 0) return <Redirect to="/projects" />;
  if (!slug) return projects.error ? <ErrorNote error={projects.error} /> : <Loading />;
  return <Redirect to={`/p/${slug}/flags`} />;
}

function NotFound() {
  return (
    <Page title="Not found">
      <p>
        There is nothing at this address. <a href="/">Go to your flags</a>.
      </p>
    </Page>
  );
}

const ScheduledChanges = ({ project }: { project: string }) => <Inbox project={project} scheduled />;

function SignedIn() {
  return (
    <ViewerProvider>
      <Shell>
        <Router>
          <Route path="/" component={Home} />
          <Route path="/sign-in" component={Home} />
          <Route path="/sign-up" component={Home} />
          <Route path="/p/:project/flags" component={FlagList} />
          <Route path="/p/:project/flags/:flagKey" component={FlagDetail} />
          <Route path="/p/:project/stale-flags" component={StaleFlags} />
          <Route path="/p/:project/segments" component={SegmentList} />
          <Route path="/p/:project/segments/:segmentKey" component={SegmentDetail} />
          <Route path="/p/:project/environments" component={Environments} />
          <Route path="/p/:project/approvals" component={Inbox} />
          <Route path="/p/:project/approvals/:id" component={RequestDetail} />
          <Route path="/p/:project/scheduled" component={ScheduledChanges} />
          <Route path="/invite" component={AcceptInvitation} />
          <Route path="/organization" component={Organization} />
          <Route path="/projects" component={Projects} />
          <Route path="/members" component={Members} />
          <Route path="/tokens" component={AccessTokens} />
          <Route path="/audit" component={AuditLog} />
          <Route path="/webhooks" component={Webhooks} />
          <Route path="/webhooks/:id" component={WebhookDetail} />
          <Route default component={NotFound} />
        </Router>
      </Shell>
    </ViewerProvider>
  );
}

function SignedOut({ reason }: { reason?: string }) {
  const { path } = useLocation();
  if (path === '/invite') return <AcceptInvitation />;
  return path === '/sign-up' ? <SignUp /> : <SignIn reason={reason} />;
}

export function App() {
  const [signedIn, setSignedIn] = useState(session.current !== null);
  const [reason, setReason] = useState<string | undefined>();
  // A new client (empty cache) whenever the person signs in: nothing of a previous session shows.
  const [generation, setGeneration] = useState(0);
  useEffect(
    () =>
      session.onChange((tokens, why) => {
        const now = tokens !== null;
        setSignedIn((was) => {
          if (was !== now) setGeneration((g) => g + 1);
          return now;
        });
        if (!now) setReason(why);
      }),
    [],
  );
  const client = useMemo(() => createGraphQLClient(), [generation]);
  return (
    <LocationProvider>
      <Provider value={client}>{signedIn ? <SignedIn key={generation} /> : <SignedOut reason={reason} />}</Provider>
    </LocationProvider>
  );
}
