// Domains: the list with account counts and catch-all, adding one (then straight to its DNS records).
import { api, type Domain, type DnsRecord } from '../api.js';
import type { Screen } from '../app.js';
import { field, form, h, section, submitButton, table } from '../dom.js';
import { announce, errorArea } from '../feedback.js';
import { formatNumber, t } from '../i18n.js';
import { domainHref, heading } from './common.js';

export const domainsScreen: Screen = {
  path: '/domains',
  async render(ctx) {
    const { domains } = await api<{ domains: Domain[] }>('GET', '/domains');
    const nodes: Node[] = [
      ...heading(t('domains.title'), t('domains.intro')),
      section(
        t('domains.list'),
        table<Domain>(
          t('domains.list'),
          [
            { label: t('domains.name'), cell: (d) => h('a', { href: domainHref(d.name) }, d.name) },
            { label: t('domains.accounts'), cell: (d) => formatNumber(d.accounts ?? 0), class: 'num' },
            { label: t('domains.catchAll'), cell: (d) => d.catchAll ?? t('common.none') },
            { label: t('domains.dns'), cell: (d) => h('a', { href: domainHref(d.name) }, t('domains.recordsLink')) }
          ],
          domains,
          t('domains.empty')
        )
      )
    ];
    if (ctx.isOwner) {
      const name = field(t('domains.name'), h('input', { type: 'text', autocomplete: 'off', spellcheck: false, autocapitalize: 'none', placeholder: 'firma.de', required: true }), { hint: t('domains.nameHint') });
      const error = errorArea();
      nodes.push(
        section(
          t('domains.add'),
          form(
            async () => {
              error.clear();
              try {
                const added = await api<{ domain: Domain; records: DnsRecord[] }>('POST', '/domains', { name: name.control.value.trim() });
                announce(t('domains.added', { name: added.domain.name }));
                ctx.navigate(`/domains/${encodeURIComponent(added.domain.name)}`);
              } catch (err) {
                error.show(err);
                name.control.focus();
              }
            },
            name.element,
            error.element,
            h('div', { class: 'actions' }, submitButton(t('domains.addButton')))
          )
        )
      );
    }
    return nodes;
  }
};
