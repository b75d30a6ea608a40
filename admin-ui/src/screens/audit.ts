// The audit log (owner only): who changed what, when, from where; filtered by who or what, older entries on demand.
import { api, type AuditEntry } from '../api.js';
import type { Screen } from '../app.js';
import { button, field, form, h, section, submitButton } from '../dom.js';
import { errorArea } from '../feedback.js';
import { formatDateTime, known, t } from '../i18n.js';
import { heading } from './common.js';

const PAGE = 50;

function actionText(action: string): string {
  const key = known(`audit.action.${action}`);
  return key ? t(key) : action;
}

function detailText(detail: Record<string, unknown>): string {
  return Object.entries(detail)
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(', ');
}

function row(entry: AuditEntry): HTMLElement {
  const cells: Array<[string, Node | string]> = [
    [t('audit.when'), h('time', { dateTime: new Date(entry.at).toISOString() }, formatDateTime(entry.at))],
    [t('audit.who'), entry.actor],
    [t('audit.what'), actionText(entry.action)],
    [t('audit.target'), h('code', null, entry.target)],
    [t('audit.ip'), entry.ip ?? '–'],
    [t('audit.detail'), detailText(entry.detail)]
  ];
  return h('tr', null, cells.map(([label, value]) => h('td', { 'data-label': label }, value)));
}

export const auditScreen: Screen = {
  path: '/audit',
  ownerOnly: true,
  async render() {
    const actor = field(t('audit.who'), h('input', { type: 'text', autocomplete: 'off', spellcheck: false }));
    const target = field(t('audit.target'), h('input', { type: 'text', autocomplete: 'off', spellcheck: false }));
    const error = errorArea();
    const body = h('tbody');
    const more = button(t('audit.more'), () => void load(false), 'secondary');
    const empty = h('p', { class: 'empty', hidden: true }, t('audit.empty'));
    let next: number | null = null;

    async function load(fresh: boolean): Promise<void> {
      error.clear();
      const query = new URLSearchParams({ limit: String(PAGE) });
      if (!fresh && next) query.set('before', String(next));
      if (actor.control.value.trim()) query.set('actor', actor.control.value.trim());
      if (target.control.value.trim()) query.set('target', target.control.value.trim());
      try {
        const page = await api<{ entries: AuditEntry[]; next: number | null }>('GET', `/audit?${query}`);
        if (fresh) body.replaceChildren();
        body.append(...page.entries.map(row));
        next = page.next;
        more.hidden = next === null;
        empty.hidden = body.children.length > 0;
      } catch (err) {
        error.show(err);
      }
    }
    await load(true);

    return [
      ...heading(t('audit.title'), t('audit.intro')),
      section(
        t('audit.filter'),
        form(async () => load(true), h('div', { class: 'inline-fields' }, actor.element, target.element), h('div', { class: 'actions' }, submitButton(t('audit.apply'))))
      ),
      section(
        t('audit.entries'),
        error.element,
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'list' },
            h('caption', { class: 'visually-hidden' }, t('audit.entries')),
            h('thead', null, h('tr', null, [t('audit.when'), t('audit.who'), t('audit.what'), t('audit.target'), t('audit.ip'), t('audit.detail')].map((c) => h('th', { scope: 'col' }, c)))),
            body
          )
        ),
        empty,
        h('div', { class: 'actions start' }, more)
      )
    ];
  }
};
