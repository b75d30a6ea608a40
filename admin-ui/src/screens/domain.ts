// One domain: the DNS records to set, required ones first and the optional ones for mail programs' automatic setup in
// their own group, each with copy buttons and the live check's verdict; removing the domain once it has no accounts.
import { api, seg, type DnsRecord, type Domain, type DomainCheck } from '../api.js';
import type { Screen } from '../app.js';
import { confirmDialog } from '../dialog.js';
import { button, h, section } from '../dom.js';
import { announce, describeError } from '../feedback.js';
import { count, formatTime, t } from '../i18n.js';
import { backLink, heading } from './common.js';
import { recordCard } from './dns-record.js';

export const domainScreen: Screen = {
  path: '/domains/:name',
  async render(ctx, params) {
    const { domain, records } = await api<{ domain: Domain; records: DnsRecord[] }>('GET', `/domains/${seg(params.name)}`);
    const host = records.find((r) => r.kind === 'MX')?.value ?? '';

    const cards = records.map((record) => ({ record, ...recordCard(record, domain.name, host) }));
    const required = cards.filter((c) => c.record.required);
    const optional = cards.filter((c) => !c.record.required);
    const summary = h('div', { class: 'check-summary', 'aria-live': 'polite' });
    const optionalSummary = h('p', { class: 'check-summary muted', 'aria-live': 'polite' });
    const checkButton = button(t('dns.checkNow'), () => void runCheck(), 'primary');
    async function runCheck(): Promise<void> {
      checkButton.disabled = true;
      summary.setAttribute('aria-busy', 'true');
      summary.replaceChildren(h('p', { class: 'loading' }, t('dns.checking')));
      try {
        const check = await api<DomainCheck>('GET', `/domains/${seg(domain.name)}/dns-check`);
        for (const card of cards) card.show(check.records.find((r) => r.kind === card.record.kind) ?? null);
        // only the required records decide whether mail works; the optional ones are counted apart
        const mail = check.records.filter((r) => r.required);
        const ok = mail.filter((r) => r.status === 'ok').length;
        const all = ok === mail.length;
        summary.replaceChildren(h('p', { class: all ? 'notice ok' : 'notice' }, all ? t('dns.allOk') : t('dns.summary', { ok, total: mail.length }), ' ', h('span', { class: 'muted' }, t('dns.checkedAt', { time: formatTime(Date.now()) }))));
        const clients = check.records.filter((r) => !r.required);
        optionalSummary.textContent = clients.length ? t('dns.optionalSummary', { ok: clients.filter((r) => r.status === 'ok').length, total: clients.length }) : '';
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
        h('div', { class: 'records required' }, required.map((c) => c.element))
      )
    ];
    if (optional.length) {
      nodes.push(
        section(
          t('dns.optionalTitle'),
          h('p', null, t('dns.optionalIntro')),
          h('p', { class: 'hint' }, t('dns.optionalHow', { domain: domain.name })),
          h('p', { class: 'hint' }, t('dns.srvParts')),
          optionalSummary,
          h('div', { class: 'records optional' }, optional.map((c) => c.element))
        )
      );
    }
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
