// An account's imports from other providers: the jobs with state and progress (owner and admin), and a new import
// (owner): see import-form.ts; one job's progress is import-job.ts.
import { api, seg, type AccountDetail, type ImportJob } from '../api.js';
import type { Screen } from '../app.js';
import { h, link, section, table } from '../dom.js';
import { formatDateTime, formatNumber, t } from '../i18n.js';
import { accountHref, backLink, heading } from './common.js';
import { newImportSection } from './import-form.js';
import { importHref, importsPath, stateBadge } from './import-job.js';

export const importsScreen: Screen = {
  path: '/accounts/:address/import',
  async render(ctx, params) {
    const [detail, { imports }] = await Promise.all([api<AccountDetail>('GET', `/accounts/${seg(params.address)}`), api<{ imports: ImportJob[] }>('GET', importsPath(params.address))]);
    const address = detail.account.address;
    return [
      backLink(accountHref(address), address),
      ...heading(t('import.title'), t('import.intro', { address })),
      section(
        t('import.jobs'),
        table<ImportJob>(
          t('import.jobs'),
          [
            { label: t('import.createdAt'), cell: (j) => formatDateTime(Date.parse(j.createdAt)) },
            { label: t('import.from'), cell: (j) => `${j.username} @ ${j.host}` },
            { label: t('import.stateLabel'), cell: (j) => stateBadge(j.state) },
            { label: t('import.messages'), cell: (j) => t('import.ofMessagesShort', { done: formatNumber(j.progress.done), total: formatNumber(j.progress.messages) }), class: 'num' },
            { label: t('import.sync'), cell: (j) => (j.sync ? t('common.on') : t('common.off')) },
            { label: t('common.actions'), cell: (j) => link(importHref(address, j.id), t('import.show'), { 'aria-label': t('import.showFor', { id: j.id, host: j.host }) }) }
          ],
          imports,
          t('import.noJobs')
        )
      ),
      ctx.isOwner ? newImportSection(ctx, address) : null
    ].filter(Boolean) as Node[];
  }
};
