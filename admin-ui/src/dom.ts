// The tiny view layer: h() builds elements, field() a labelled input with hint and error, table() a table that
// turns into cards on a phone (each cell carries its column name).
type Child = Node | string | number | null | undefined | false | Child[];
type Props = Record<string, unknown>;

function append(parent: Node, child: Child): void {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) for (const c of child) append(parent, c);
  else parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
}

/** Set as attributes: roles, and properties that are read-only in the DOM (input.list, input.form). */
const ATTRIBUTES = new Set(['role', 'list', 'form']);

/**
 * An element with properties, attributes and children. `on<event>` functions become listeners; `class`, `for`,
 * `aria-*`, `data-*`, `role`, `list` and `form` become attributes; everything else is set as a property when the element has it.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props | null = null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value as EventListener);
    else if (key === 'class') el.className = String(value);
    else if (key === 'for') (el as HTMLLabelElement).htmlFor = String(value);
    else if (key.startsWith('aria-') || key.startsWith('data-') || ATTRIBUTES.has(key) || !(key in el)) el.setAttribute(key, value === true ? '' : String(value));
    else (el as unknown as Record<string, unknown>)[key] = value;
  }
  append(el, children);
  return el;
}

/** Replaces an element's children (null and false are skipped, as in h()). */
export function fill(parent: HTMLElement, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let idCounter = 0;
export const uniqueId = (prefix: string) => `${prefix}-${++idCounter}`;

export type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

export interface Field<C extends Control = Control> {
  element: HTMLElement;
  control: C;
  setError(message: string | null): void;
}

/** A label, the control (or `wrap`, a group holding it), an optional hint and an error line, tied together with for/aria-describedby. */
export function field<C extends Control>(label: string, control: C, options: { hint?: Child; after?: Child; wide?: boolean; wrap?: HTMLElement } = {}): Field<C> {
  control.id ||= uniqueId('f');
  const hintId = `${control.id}-hint`;
  const errorId = `${control.id}-error`;
  const error = h('p', { class: 'field-error', id: errorId, hidden: true });
  const hint = options.hint ? h('div', { class: 'hint', id: hintId }, options.hint) : null;
  control.setAttribute('aria-describedby', [hint ? hintId : '', errorId].filter(Boolean).join(' '));
  const element = h('div', { class: options.wide ? 'field wide' : 'field' }, h('label', { for: control.id }, label), options.after ? h('div', { class: 'control-row' }, options.wrap ?? control, options.after) : (options.wrap ?? control), hint, error);
  return {
    element,
    control,
    setError(message) {
      error.textContent = message ?? '';
      error.hidden = !message;
      if (message) control.setAttribute('aria-invalid', 'true');
      else control.removeAttribute('aria-invalid');
    }
  };
}

/** A checkbox shown as an on/off switch, with its label beside it. */
export function switchField(label: string, checked: boolean, hint?: string): { element: HTMLElement; control: HTMLInputElement } {
  const control = h('input', { type: 'checkbox', role: 'switch', checked, id: uniqueId('s') });
  const hintEl = hint ? h('span', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return { element: h('div', { class: 'field switch' }, h('label', { for: control.id }, control, h('span', null, label)), hintEl), control };
}

export function button(label: string, onclick: (event: MouseEvent) => unknown, kind: `${'primary' | 'secondary' | 'danger' | 'link'}${'' | ' small'}` = 'secondary', extra: Props = {}): HTMLButtonElement {
  return h('button', { type: 'button', class: `btn ${kind}`, onclick, ...extra }, label);
}

export function submitButton(label: string, kind: 'primary' | 'danger' = 'primary'): HTMLButtonElement {
  return h('button', { type: 'submit', class: `btn ${kind}` }, label);
}

export interface Column<T> {
  label: string;
  cell(row: T): Child;
  class?: string;
}

/** A table; on narrow screens CSS shows each row as a card with the column names from data-label. */
export function table<T>(caption: string, columns: Column<T>[], rows: T[], empty: string): HTMLElement {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'list' },
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
      h('tbody', null, rows.map((row) => h('tr', null, columns.map((c) => h('td', { 'data-label': c.label, class: c.class }, c.cell(row))))))
    )
  );
}

export function badge(text: string, tone: 'ok' | 'warn' | 'bad' | 'neutral' | 'info'): HTMLElement {
  return h('span', { class: `badge ${tone}` }, text);
}

export function section(title: string, ...children: Child[]): HTMLElement {
  const id = uniqueId('sec');
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

export function link(href: string, text: Child, props: Props = {}): HTMLAnchorElement {
  return h('a', { href, ...props }, text);
}

/** A form whose submit runs the handler with the submit button disabled meanwhile (no double submissions). */
export function form(onsubmit: (form: HTMLFormElement) => Promise<void>, ...children: Child[]): HTMLFormElement {
  const el = h('form', { novalidate: true }, ...children);
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    const buttons = [...el.querySelectorAll<HTMLButtonElement>('button[type=submit]')];
    buttons.forEach((b) => (b.disabled = true));
    el.setAttribute('aria-busy', 'true');
    try {
      await onsubmit(el);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
      el.removeAttribute('aria-busy');
    }
  });
  return el;
}
