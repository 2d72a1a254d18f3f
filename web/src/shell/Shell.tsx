import { useQuery } from '@urql/preact';
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { graphql } from '../graphql/index.ts';
import { lastProject } from '../session/project.ts';
import { session } from '../session/session.ts';
import { useCan, useViewer } from '../session/viewer.tsx';
import { useAction } from '../ui/mutation.ts';
import { Notices } from '../ui/notices.tsx';
import { applyTheme, currentTheme, type Theme } from '../ui/theme.ts';
import { useWaitingCount, waitingCount } from '../views/approvals/Waiting.tsx';
import { sameViewIn } from './sameView.ts';

export const ProjectsQuery = graphql(`
  query ShellProjects { projects(limit: 100) { data { id slug name } } }
`);

const SwitchOrganization = graphql(`
  mutation SwitchOrganization($id: ID!) {
    switchOrganization(organizationId: $id) { tokens { accessToken refreshToken expiresAt } }
  }
`);

/** The project in the URL (/p/<slug>/…), else the one used last, else the first. */
export function useCurrentProjectSlug(): string | undefined {
  const { path } = useLocation();
  const [projects] = useQuery({ query: ProjectsQuery });
  const fromUrl = /^\/p\/([^/]+)/.exec(path)?.[1];
  if (fromUrl) return decodeURIComponent(fromUrl);
  const list = projects.data?.projects.data ?? [];
  const last = lastProject();
  return list.find((p) => p.slug === last)?.slug ?? list[0]?.slug;
}

function NavLink({ href, label, children }: { href: string; label?: string; children: ComponentChildren }) {
  const { path } = useLocation();
  const current = path === href || path.startsWith(`${href}/`);
  return (
    <a href={href} aria-current={current ? 'page' : undefined} aria-label={label} class="nav-link">
      {children}
    </a>
  );
}

/** Approvals, with (for a reviewer) how many requests wait for them: "Approvals, 2 waiting". */
function ApprovalsLink(props: { slug: string; projectId: string | undefined; reviewer: boolean }) {
  const userId = useViewer().me.user?.id;
  const waiting = waitingCount(useWaitingCount(props.projectId, props.reviewer ? userId : undefined));
  return (
    <NavLink href={`/p/${props.slug}/approvals`} label={waiting?.label}>
      Approvals{waiting && ' '}
      {waiting?.badge}
    </NavLink>
  );
}

export function Shell({ children }: { children: ComponentChildren }) {
  const viewer = useViewer();
  const can = useCan();
  const location = useLocation();
  const [projects] = useQuery({ query: ProjectsQuery });
  const slug = useCurrentProjectSlug();
  const [theme, setTheme] = useState<Theme>(currentTheme());
  const switchOrg = useAction(SwitchOrganization, { notifyErrors: true });

  const changeOrganization = async (id: string) => {
    const previous = session.current;
    const data = await switchOrg.run({ id });
    if (!data) return;
    session.adopt(data.switchOrganization.tokens, previous);
    localStorage.removeItem('vexil.project');
    // Everything on screen belonged to the other organization: start over from its first project.
    location.route('/', true);
    window.location.reload();
  };

  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="/" aria-label="Vexil home">
          <img src="/favicon.svg" alt="" width="24" height="24" />
          <span>Vexil</span>
        </a>
        <label class="switcher">
          <span class="visually-hidden">Organization</span>
          <select
            value={viewer.organization.id}
            disabled={switchOrg.fetching}
            onChange={(e) => void changeOrganization(e.currentTarget.value)}
          >
            {viewer.myOrganizations.map((o) => (
              <option key={o.id} value={o.id}>
                {o.name}
              </option>
            ))}
          </select>
        </label>
        <label class="switcher">
          <span class="visually-hidden">Project</span>
          <select
            value={slug ?? ''}
            onChange={(e) => {
              const next = e.currentTarget.value;
              location.route(sameViewIn(location.path, next));
            }}
          >
            {(projects.data?.projects.data ?? []).map((p) => (
              <option key={p.id} value={p.slug}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <div class="topbar-end">
          <label class="switcher">
            <span class="visually-hidden">Theme</span>
            <select
              value={theme}
              onChange={(e) => {
                const next = e.currentTarget.value as Theme;
                applyTheme(next);
                setTheme(next);
              }}
            >
              <option value="system">System theme</option>
              <option value="light">Light</option>
              <option value="dark">Dark</option>
            </select>
          </label>
          <span class="whoami" title={viewer.me.user?.email}>
            {viewer.me.user?.name} · <span class="role">{viewer.me.role}</span>
          </span>
          <button type="button" onClick={() => void session.signOut().then(() => window.location.assign('/sign-in'))}>
            Sign out
          </button>
        </div>
      </header>
      <nav class="sidebar" aria-label="Main">
        {slug && (
          <>
            <h2 class="nav-heading">Project</h2>
            <NavLink href={`/p/${slug}/flags`}>Flags</NavLink>
            <NavLink href={`/p/${slug}/segments`}>Segments</NavLink>
            <NavLink href={`/p/${slug}/environments`}>Environments & SDK keys</NavLink>
            {(can('approval:review') || can('approval:request')) && (
              <ApprovalsLink
                slug={slug}
                projectId={projects.data?.projects.data.find((p) => p.slug === slug)?.id}
                reviewer={can('approval:review')}
              />
            )}
            <NavLink href={`/p/${slug}/scheduled`}>Scheduled changes</NavLink>
          </>
        )}
        <h2 class="nav-heading">Organization</h2>
        <NavLink href="/organization">Settings</NavLink>
        <NavLink href="/projects">Projects</NavLink>
        {can('member:read') && <NavLink href="/members">Members</NavLink>}
        {can('token:list') && <NavLink href="/tokens">Access tokens</NavLink>}
        {can('audit:read') && <NavLink href="/audit">Audit log</NavLink>}
        {can('webhook:manage') && <NavLink href="/webhooks">Webhooks</NavLink>}
      </nav>
      <main id="main" class="content" tabIndex={-1}>
        {children}
      </main>
      <Notices />
    </div>
  );
}
