// The page frame: header with navigation (a menu button on a phone), the language switch, the status line and main.
import { h } from './dom.js';
import { statusElement } from './feedback.js';
import { LANGUAGES, language, setLanguage, t, type Language } from './i18n.js';

let onLanguageChange: () => void = () => undefined;

/** What to draw again when the language changes (the current page). */
export function redrawOnLanguageChange(redraw: () => void): void {
  onLanguageChange = redraw;
}

export function languageSelect(): HTMLElement {
  const select = h(
    'select',
    { id: 'language', onchange: () => {
      setLanguage(select.value as Language);
      onLanguageChange();
      document.getElementById('language')?.focus();
    } },
    (Object.keys(LANGUAGES) as Language[]).map((code) => h('option', { value: code, lang: code, selected: code === language() }, LANGUAGES[code]))
  );
  return h('div', { class: 'language' }, h('label', { for: 'language' }, t('shell.language')), select);
}

export interface NavItem {
  href: string;
  label: string;
  current: boolean;
}

export interface ShellParts {
  main: HTMLElement;
}

/** Skip link: moves focus to the main content (a plain #main link would be taken for a route). */
function skipLink(main: () => HTMLElement | null): HTMLElement {
  return h('a', { class: 'skip', href: '#', onclick: (event: Event) => { event.preventDefault(); main()?.focus(); } }, t('shell.skip'));
}

/**
 * The frame for the logged-in app: brand, then the user box (login, role, profile, logout, language), then the
 * navigation on a row of its own. On a phone the user box and the navigation fold into the menu button.
 */
export function renderShell(root: HTMLElement, nav: NavItem[] | null, user: Node | null): ShellParts {
  const main = h('main', { id: 'main', tabIndex: -1 });
  let menu: HTMLElement;
  let toggle: HTMLButtonElement | null = null;
  if (nav) {
    menu = h(
      'div',
      { id: 'menu' },
      h('div', { class: 'user' }, user, languageSelect()),
      h('nav', { id: 'nav', 'aria-label': t('shell.navigation') }, h('ul', null, nav.map((item) => h('li', null, h('a', { href: item.href, 'aria-current': item.current ? 'page' : undefined }, item.label)))))
    );
    toggle = h('button', { type: 'button', class: 'menu-toggle', 'aria-expanded': 'false', 'aria-controls': 'menu' }, t('shell.menu'));
    const setOpen = (open: boolean) => {
      toggle!.setAttribute('aria-expanded', String(open));
      menu.classList.toggle('open', open);
    };
    toggle.addEventListener('click', () => setOpen(toggle!.getAttribute('aria-expanded') !== 'true'));
    // choosing a page closes the menu on a phone
    menu.addEventListener('click', (event) => {
      if ((event.target as HTMLElement).closest('a')) setOpen(false);
    });
  } else {
    menu = h('div', { class: 'user' }, languageSelect());
  }
  const header = h('header', { class: 'topbar' }, h('div', { class: 'brand' }, h('img', { src: '/favicon.svg', alt: '', width: 28, height: 28 }), h('span', null, 'Postfach')), toggle, menu);
  root.replaceChildren(skipLink(() => main), header, statusElement(), main);
  return { main };
}

/** Marks the navigation entry of the current route. */
export function markCurrent(path: string): void {
  for (const a of document.querySelectorAll<HTMLAnchorElement>('#nav a')) {
    const target = a.getAttribute('href')!.slice(1);
    if (path === target || path.startsWith(`${target}/`)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}
