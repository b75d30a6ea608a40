// The logged-in app: hash routes (#/accounts/info@firma.de) to screen modules, role-aware navigation, a screen drawn
// again after every change, and 401/403/404 answered in words rather than a blank page.
import { ApiError, type AdminUser, type PolicyInfo } from './api.js';
import { button, h } from './dom.js';
import { announce, describeError } from './feedback.js';
import { t, type Key } from './i18n.js';
import { markCurrent, renderShell } from './shell.js';

export interface AppContext {
  admin: AdminUser;
  isOwner: boolean;
  policy: PolicyInfo;
  /** draw the current screen again with fresh data (after a change), then announce what changed */
  refresh(announcement?: string): Promise<void>;
  navigate(path: string): void;
  logout(): void;
}

/** One screen = one module: its route pattern, who may see it, and how it draws itself. */
export interface Screen {
  /** e.g. /accounts/:address */
  path: string;
  ownerOnly?: boolean;
  render(ctx: AppContext, params: Record<string, string>): Promise<Node[]>;
}

export interface NavEntry {
  path: string;
  label: Key;
  ownerOnly?: boolean;
}

export const routeHref = (path: string) => `#${path}`;

function currentPath(): string {
  const path = location.hash.replace(/^#/, '');
  return path.startsWith('/') ? path : '/';
}

function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':')) {
      if (!got[i]) return null;
      try {
        params[want[i].slice(1)] = decodeURIComponent(got[i]);
      } catch {
        return null;
      }
    } else if (want[i] !== got[i]) return null;
  }
  return params;
}

export function startApp(root: HTMLElement, admin: AdminUser, policy: PolicyInfo, screens: Screen[], nav: NavEntry[], user: (ctx: AppContext) => Node, logout: () => void): { redraw(): void; stop(): void } {
  let main: HTMLElement;
  let drawing = 0;
  const ctx: AppContext = {
    admin,
    isOwner: admin.role === 'owner',
    policy,
    refresh: async (announcement) => {
      await draw(false);
      // after the new state is on screen, so what is announced and what is shown agree
      if (announcement) announce(announcement);
    },
    navigate: (path) => {
      if (currentPath() === path) void draw(true);
      else location.hash = path;
    },
    logout
  };

  function frame(): void {
    const items = nav.filter((n) => !n.ownerOnly || ctx.isOwner).map((n) => ({ href: routeHref(n.path), label: t(n.label), current: false }));
    ({ main } = renderShell(root, items, user(ctx)));
  }

  function problem(message: string, retry: boolean): Node[] {
    return [h('h1', { tabIndex: -1 }, t('common.problem')), h('p', { class: 'form-error', role: 'alert' }, message), retry ? button(t('common.retry'), () => void ctx.refresh(), 'secondary') : null].filter(Boolean) as Node[];
  }

  /** The nodes of the current route: the screen, or a problem said in words (unknown page, role, API error). */
  async function content(path: string): Promise<Node[] | null> {
    const found = screens.map((s) => ({ screen: s, params: match(s.path, path) })).find((m) => m.params);
    if (!found) return problem(t('error.route_not_found'), false);
    if (found.screen.ownerOnly && !ctx.isOwner) return problem(t('error.forbidden'), false);
    try {
      return await found.screen.render(ctx, found.params!);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'unauthenticated') return null; // the login page takes over
      return problem(describeError(err), !(err instanceof ApiError && err.status === 404));
    }
  }

  /** Draws the current route; a navigation moves focus to the new heading, a refresh keeps the scroll position. */
  async function draw(navigated: boolean): Promise<void> {
    const path = currentPath();
    if (path === '/') return location.replace('#/domains');
    const id = ++drawing;
    markCurrent(path);
    const scrollY = window.scrollY;
    if (navigated) main.replaceChildren(h('p', { class: 'loading' }, t('common.loading')));
    main.setAttribute('aria-busy', 'true');
    const nodes = await content(path);
    if (id !== drawing || !nodes) return; // the user went elsewhere meanwhile, or the session is gone
    main.removeAttribute('aria-busy');
    main.replaceChildren(...nodes);
    const heading = main.querySelector('h1');
    document.title = heading ? `${heading.textContent} – Postfach` : 'Postfach';
    if (navigated) {
      window.scrollTo(0, 0);
      heading?.setAttribute('tabindex', '-1');
      heading?.focus();
    } else {
      window.scrollTo(0, scrollY);
      main.focus({ preventScroll: true });
    }
  }

  const onHash = () => void draw(true);
  window.addEventListener('hashchange', onHash);
  frame();
  void draw(true);
  return {
    redraw() {
      frame();
      void draw(false);
    },
    stop() {
      window.removeEventListener('hashchange', onHash);
    }
  };
}
