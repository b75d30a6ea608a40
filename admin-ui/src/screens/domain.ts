// One domain: the DNS records to set (with copy buttons), each with the live check's verdict saying what is right and
// what to change, and removing the domain once it has no accounts.
import { api, seg, type DnsRecord, type Domain, type DomainCheck, type RecordCheck } from '../api.js';
import type { Screen } from '../app.js';
import { copyable } from '../copy.js';
import { confirmDialog } from '../dialog.js';
import { badge, button, fill, h, section } from '../dom.js';
import { announce, describeError } from '../feedback.js';
import { count, formatTime, known, t, type Key } from '../i18n.js';
import { backLink, heading } from './common.js';

const STATUS_TONE = { ok: 'ok', missing: 'bad', wrong: 'warn', error: 'neutral' } as const;

/** What a check result means, in plain words: the problem code translated, the API's English text otherwise. */
function explanation(check: RecordCheck, params: Record<string, string>): string {
  if (check.status === 'ok') return t(`dns.ok.${check.kind}` as Key, params);
  const key = check.problem ? known(`dns.problem.${check.problem}`) : null;
  return key ? t(key, params) : check.message;
}

/** One record to set, with its live status (filled in when the check answers). */
function recordCard(record: DnsRecord, domain: string, host: string): { element: HTMLElement; show(check: RecordCheck | null): void } {
  const kind = t(`dns.kind.${record.kind}` as Key);
  const state = h('span', { class: 'state' });
  const result = h('div', { class: 'check-result' });
  const element = h(
    'article',
    { class: 'record' },
    h('h3', null, kind, state),
    h('p', { class: 'hint' }, t(`dns.note.${record.kind}` as Key)),
    h(
      'dl',
      null,
      h('dt', null, t('dns.type')),
      h('dd', null, h('code', null, record.type)),
      h('dt', null, t('dns.name')),
      h('dd', null, copyable(record.name, t('dns.copyName', { kind }))),
      record.priority === undefined ? null : [h('dt', null, t('dns.priority')), h('dd', null, h('code', null, String(record.priority)))],
      h('dt', null, t('dns.value')),
      h('dd', null, copyable(record.value, t('dns.copyValue', { kind })))
    ),
    result
  );
  return {
    element,
    show(check) {
      element.className = `record ${check?.status ?? ''}`;
      state.replaceChildren(check ? badge(t(`dns.status.${check.status}` as Key), STATUS_TONE[check.status]) : '');
      if (!check) return result.replaceChildren();
      const params = { domain, host, name: record.name, found: check.found.join(', ') };
      fill(
        result,
        h('p', { class: 'explanation' }, explanation(check, params)),
        check.status !== 'ok' && check.found.length ? h('p', { class: 'found' }, `${t('dns.found')}: `, h('code', null, check.found.join(' | '))) : null
      );
    }
  };
}

export const domainScreen: Screen = {
  path: '/domains/:name',
  async render(ctx, params) {
    const { domain, records } = await api<{ domain: Domain; records: DnsRecord[] }>('GET', `/domains/${seg(params.name)}`);
    const host = records.find((r) => r.kind === 'MX')?.value ?? '';

    const cards = records.map((record) => ({ kind: record.kind, ...recordCard(record, domain.name, host) }));
    const summary = h('div', { class: 'check-summary', 'aria-live': 'polite' });
    const checkButton = button(t('dns.checkNow'), () => void runCheck(), 'primary');
    async function runCheck(): Promise<void> {
      checkButton.disabled = true;
      summary.setAttribute('aria-busy', 'true');
      summary.replaceChildren(h('p', { class: 'loading' }, t('dns.checking')));
      try {
        const check = await api<DomainCheck>('GET', `/domains/${seg(domain.name)}/dns-check`);
        for (const card of cards) card.show(check.records.find((r) => r.kind === card.kind) ?? null);
        const ok = check.records.filter((r) => r.status === 'ok').length;
        const all = ok === check.records.length;
        summary.replaceChildren(h('p', { class: all ? 'notice ok' : 'notice' }, all ? t('dns.allOk') : t('dns.summary', { ok, total: check.records.length }), ' ', h('span', { class: 'muted' }, t('dns.checkedAt', { time: formatTime(Date.now()) }))));
      } catch (err) {
        summary.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, describeError(err)));
      } finally {
        checkButton.disabled = false;
        summary.removeAttribute('aria-busy');
      }
    }

    const nodes: Node[] = [
      backLink('#/domains', t('domains.title')),
      ...heading(domain.name, t('domain.summary', { accounts: domain.accounts ?? 0, catchAll: domain.catchAll ?? t('common.none') })),
      section(
        t('dns.recordsTitle'),
        h('p', null, t('dns.recordsIntro')),
        h('p', { class: 'hint' }, t('dns.checkIntro')),
        h('div', { class: 'check-bar' }, summary, checkButton),
        h('div', { class: 'records' }, cards.map((c) => c.element))
      )
    ];
    if (ctx.isOwner) {
      const empty = (domain.accounts ?? 0) === 0;
      nodes.push(
        section(
          t('domain.removeTitle'),
          h('p', null, empty ? t('domain.removeIntro') : t('domain.removeBlocked', { accounts: count('accounts', domain.accounts ?? 0) })),
          button(
            t('domain.remove'),
            async () => {
              const removed = await confirmDialog({
                title: t('domain.removeConfirmTitle', { name: domain.name }),
                message: [t('domain.removeConfirm', { name: domain.name })],
                confirm: t('domain.remove'),
                danger: true,
                action: () => api('DELETE', `/domains/${seg(domain.name)}`)
              });
              if (removed) {
                announce(t('domain.removed', { name: domain.name }));
                ctx.navigate('/domains');
              }
            },
            'danger',
            { disabled: !empty }
          )
        )
      );
    }
    void runCheck();
    return nodes;
  }
};
