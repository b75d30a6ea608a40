// One import's progress: state, messages and bytes overall and per folder with progress bars, the failed messages with
// the reason in words; asked again every 2 s while it can change, and no longer once the view is left. The owner stops,
// resumes (with the old provider's password when it is no longer stored), turns the repeating sync on or off and
// deletes the job (the imported mail stays).
import { api, ApiError, seg, type ImportFailure, type ImportFolderProgress, type ImportJob, type ImportState } from '../api.js';
import type { AppContext, Screen } from '../app.js';
import { confirmDialog } from '../dialog.js';
import { badge, button, field, fill, h, section, switchField, table } from '../dom.js';
import { announce, errorArea } from '../feedback.js';
import { count, formatBytes, formatDateTime, formatNumber, formatTime, known, t, type Key } from '../i18n.js';
import { backLink, heading } from './common.js';
import { checkboxField, folderName, importErrorText } from './import-form.js';

export const POLL_MS = 2000;
/** States in which the job changes by itself (the runner picks it up, copies, waits for the next sync). */
export const CHANGING: ReadonlySet<ImportState> = new Set(['queued', 'running', 'waiting']);
const STATE_TONE = { queued: 'info', running: 'info', waiting: 'ok', stopped: 'neutral', failed: 'bad', done: 'ok' } as const;

export const importsPath = (address: string) => `/accounts/${seg(address)}/imports`;
export const importHref = (address: string, id?: number) => `#/accounts/${encodeURIComponent(address)}/import${id === undefined ? '' : `/${id}`}`;

export const stateBadge = (state: ImportState) => badge(t(`import.state.${state}`), STATE_TONE[state]);

/** A bar with its figures in words beside it (and as its accessible name); `counted` false: nothing known yet. */
function bar(done: number, total: number, text: string, counted = true): HTMLElement {
  // an empty folder that was visited is complete, not at 0 of 0
  const max = Math.max(total, 1);
  return h('div', { class: 'bar' }, h('progress', { max, value: !counted ? 0 : total ? Math.min(done, total) : max, 'aria-label': text }), h('span', null, text));
}

/** A folder the import has not reached yet: its messages are counted when it gets there. */
const uncounted = (f: ImportFolderProgress) => f.state === 'pending' && f.messages === 0;

const messagesText = (done: number, total: number) => t('import.ofMessages', { done: formatNumber(done), total: count('messages', total) });
const bytesText = (done: number, total: number) => t('import.ofBytes', { done: formatBytes(done), total: formatBytes(total) });

function overall(job: ImportJob): Node[] {
  const p = job.progress;
  // nothing counted yet is not "0 of 0, complete"
  const counted = p.messages > 0 || !job.folders.some(uncounted);
  return [
    bar(p.done, p.messages, counted ? messagesText(p.done, p.messages) : t('import.notCounted'), counted),
    bar(p.bytesDone, p.bytes, counted ? bytesText(p.bytesDone, p.bytes) : '–', counted),
    h('p', { class: 'counts' }, t('import.counts', { imported: formatNumber(p.imported), skipped: formatNumber(p.skipped), failed: formatNumber(p.failed) })),
    job.folders.some(uncounted) ? h('p', { class: 'hint' }, t('import.countedSoFar')) : null
  ].filter(Boolean) as Node[];
}

function folderTable(job: ImportJob): HTMLElement {
  return table<ImportFolderProgress>(
    t('import.folders'),
    [
      { label: t('import.folder'), cell: (f) => h('div', null, folderName(f.remote), ' → ', folderName(f.local)) },
      { label: t('import.folderState'), cell: (f) => h('div', null, t(`import.folderState.${f.state}`), f.error ? h('p', { class: 'field-error' }, f.error) : null) },
      {
        label: t('import.messages'),
        cell: (f) => (uncounted(f) ? bar(0, 0, t('import.notCounted'), false) : bar(f.imported + f.skipped + f.failed, f.messages, messagesText(f.imported + f.skipped + f.failed, f.messages)))
      },
      { label: t('import.size'), cell: (f) => (uncounted(f) ? bar(0, 0, '–', false) : bar(f.bytesDone, f.bytes, bytesText(f.bytesDone, f.bytes))) }
    ],
    job.folders,
    t('import.noFolders')
  );
}

function failureTable(job: ImportJob): Node[] {
  if (!job.failuresTotal) return [h('p', { class: 'empty' }, t('import.noFailures'))];
  return [
    h('p', null, job.failures.length < job.failuresTotal ? t('import.failuresNewest', { shown: job.failures.length, total: job.failuresTotal }) : t('import.failuresIntro')),
    table<ImportFailure>(
      t('import.failures'),
      [
        { label: t('import.folder'), cell: (f) => folderName(f.folder) },
        { label: 'UID', cell: (f) => String(f.uid), class: 'num' },
        { label: t('import.subject'), cell: (f) => f.subject || h('span', { class: 'muted' }, t('import.noSubject')) },
        { label: t('import.size'), cell: (f) => formatBytes(f.size), class: 'num' },
        { label: t('import.reason'), cell: (f) => h('div', null, t(`import.failure.${f.reason}`), h('span', { class: 'hint detail' }, f.detail)) }
      ],
      job.failures,
      ''
    )
  ];
}

/** The state in a sentence, and the job's problem (named by field) in words. */
function stateView(job: ImportJob): Node[] {
  const at = (iso: string | null) => (iso ? formatTime(Date.parse(iso)) : '');
  const sentence = job.state === 'queued' && job.error ? t('import.stateText.retry', { time: at(job.nextRunAt) }) : t(`import.stateText.${job.state}`, { time: at(job.nextRunAt) });
  const problem = job.error ? known(`import.jobError.${job.error.field}`) : null;
  return [
    h('p', { class: 'job-state' }, stateBadge(job.state), ' ', sentence),
    job.error ? h('p', { class: job.state === 'failed' ? 'form-error' : 'notice', role: job.state === 'failed' ? 'alert' : undefined }, problem ? t(problem) : t('import.jobError'), ' ', h('span', { class: 'detail' }, `(${job.error.message})`)) : null,
    h(
      'dl',
      { class: 'summary' },
      h('dt', null, t('import.from')),
      h('dd', null, t('import.fromValue', { username: job.username, host: job.host, port: job.port, encryption: t(`import.encryption.${job.encryption}`) })),
      h('dt', null, t('import.sync')),
      h('dd', null, job.sync ? t('common.on') : t('common.off')),
      h('dt', null, t('import.createdAt')),
      h('dd', null, t('import.createdBy', { time: formatDateTime(Date.parse(job.createdAt)), who: job.createdBy })),
      job.lastPassAt ? [h('dt', null, t('import.lastPass')), h('dd', null, t('import.passes', { time: formatDateTime(Date.parse(job.lastPassAt)), passes: formatNumber(job.passes) }))] : null,
      job.finishedAt ? [h('dt', null, t('import.finishedAt')), h('dd', null, formatDateTime(Date.parse(job.finishedAt)))] : null
    )
  ].filter(Boolean) as Node[];
}

/** The owner's buttons for the job's current state; `update` shows the job the API answers with. */
function actions(ctx: AppContext, job: ImportJob, update: (job: ImportJob) => void): Node[] {
  const base = `${importsPath(job.account)}/${job.id}`;
  const error = errorArea();
  // the old provider's password, when the job no longer has it (finished, refused, or sync to be turned on again)
  const password = job.passwordStored ? null : field(t('import.passwordAgain'), h('input', { type: 'password', autocomplete: 'off', maxLength: 1024 }), { hint: t('import.passwordAgainHint', { username: job.username, host: job.host }) });
  const withPassword = () => (password?.control.value ? { password: password.control.value } : {});
  /** Runs a change; an error naming the password goes to that field, anything else to the alert line. */
  const run = async (request: () => Promise<{ import: ImportJob }>, done: string) => {
    error.clear();
    password?.setError(null);
    try {
      update((await request()).import);
      announce(done);
    } catch (err) {
      // the job moved on meanwhile (finished, stopped elsewhere): show where it is now
      if (err instanceof ApiError && err.code === 'conflict') void api<{ import: ImportJob }>('GET', base).then((fresh) => update(fresh.import), () => undefined);
      const message = importErrorText(err);
      if (password && (err as { field?: string }).field === 'password') {
        password.setError(message);
        password.control.focus();
      } else error.show(message);
    }
  };

  const parts: Node[] = [password?.element ?? null].filter((p): p is HTMLElement => p !== null);
  if (CHANGING.has(job.state)) {
    parts.push(h('h3', null, t('import.stop')), h('p', null, t('import.stopIntro')), h('div', { class: 'actions start' }, button(t('import.stop'), () => void run(() => api('POST', `${base}/stop`), t('import.stopped')), 'secondary')));
  } else {
    const retry = job.failuresTotal ? checkboxField(t('import.retryFailed'), false, t('import.retryFailedHint')) : null;
    const quota = job.error?.field === 'quota' || job.ignoreQuota ? checkboxField(t('import.ignoreQuota'), job.ignoreQuota, t('import.ignoreQuotaHint')) : null;
    const label = t(job.state === 'done' ? 'import.again' : 'import.resume');
    parts.push(
      h('h3', null, label),
      h('p', null, t(job.state === 'done' ? 'import.againIntro' : 'import.resumeIntro')),
      ...[retry, quota].flatMap((f) => (f ? [f.element] : [])),
      h(
        'div',
        { class: 'actions start' },
        button(
          label,
          () => {
            if (password && !password.control.value) {
              password.setError(t('import.error.password.required'));
              return password.control.focus();
            }
            void run(() => api('POST', `${base}/resume`, { ...withPassword(), ...(retry ? { retryFailed: retry.control.checked } : {}), ...(quota ? { ignoreQuota: quota.control.checked } : {}) }), t('import.resumed'));
          },
          'primary'
        )
      )
    );
  }
  const sync = switchField(t('import.sync'), job.sync, t('import.syncSwitchHint'));
  sync.control.addEventListener('change', () => {
    const on = sync.control.checked;
    if (on && password && !password.control.value && job.state === 'done') {
      sync.control.checked = false;
      password.setError(t('import.error.password.syncAgain'));
      return password.control.focus();
    }
    void run(() => api('PATCH', base, { sync: on, ...withPassword() }), t(on ? 'import.syncOn' : 'import.syncOff')).then(() => {
      // refused: the switch shows what holds
      if (!error.element.hidden || password?.control.getAttribute('aria-invalid')) sync.control.checked = !on;
    });
  });
  parts.push(h('h3', null, t('import.syncTitle')), sync.element, error.element);
  return parts;
}

function deleteSection(ctx: AppContext, job: ImportJob): HTMLElement {
  return section(
    t('import.deleteTitle'),
    h('p', null, t('import.deleteIntro', { address: job.account })),
    button(
      t('import.delete'),
      async () => {
        const deleted = await confirmDialog({
          title: t('import.deleteConfirmTitle'),
          message: [t('import.deleteConfirm', { address: job.account })],
          confirm: t('import.delete'),
          danger: true,
          action: () => api('DELETE', `${importsPath(job.account)}/${job.id}`)
        });
        if (deleted) {
          announce(t('import.deleted'));
          ctx.navigate(`/accounts/${encodeURIComponent(job.account)}/import`);
        }
      },
      'danger'
    )
  );
}

export const importJobScreen: Screen = {
  path: '/accounts/:address/import/:id',
  async render(ctx, params) {
    const path = `${importsPath(params.address)}/${seg(params.id)}`;
    let job = (await api<{ import: ImportJob }>('GET', path)).import;
    const state = h('div', { class: 'job-status', 'aria-live': 'polite' });
    const progress = h('div', { class: 'job-progress' });
    const folders = h('div');
    const failures = h('div');
    const controls = h('div', { class: 'job-controls' });
    const pollError = h('p', { class: 'form-error', role: 'alert', hidden: true });
    let controlsFor = '';

    function show(next: ImportJob): void {
      job = next;
      fill(state, stateView(job));
      fill(progress, overall(job));
      fill(folders, folderTable(job));
      fill(failures, failureTable(job));
      // drawn again only when what they offer changes, so a password being typed survives the polling
      const offer = [job.state, job.passwordStored, job.sync, job.failuresTotal > 0, job.error?.field, job.ignoreQuota].join('|');
      if (ctx.isOwner && offer !== controlsFor) {
        controlsFor = offer;
        fill(controls, actions(ctx, job, (changed) => {
          show(changed);
          schedule();
        }));
      }
    }

    // asked again while the job can change by itself; never once the view is gone (another page, a redraw): poll()
    // finds its nodes detached and stops
    let timer: ReturnType<typeof setTimeout> | undefined;
    const root = h('div', { class: 'import-job' });
    function schedule(): void {
      clearTimeout(timer);
      if (CHANGING.has(job.state)) timer = setTimeout(() => void poll(), POLL_MS);
    }
    async function poll(): Promise<void> {
      if (!root.isConnected) return;
      try {
        const next = (await api<{ import: ImportJob }>('GET', path)).import;
        if (!root.isConnected) return;
        pollError.hidden = true;
        show(next);
      } catch (err) {
        pollError.textContent = importErrorText(err);
        pollError.hidden = false;
        if ((err as { status?: number }).status === 404) return; // deleted meanwhile
      }
      schedule();
    }
    window.addEventListener('hashchange', () => clearTimeout(timer), { once: true });

    show(job);
    root.append(
      section(t('import.statusTitle'), state, pollError, progress),
      section(t('import.folders'), folders),
      section(t('import.failures'), failures),
      ...(ctx.isOwner ? [section(t('import.controls'), controls), deleteSection(ctx, job)] : [])
    );
    schedule();
    return [backLink(importHref(job.account), t('import.title')), ...heading(t('import.jobTitle', { username: job.username, host: job.host }), t('import.jobLead', { address: job.account })), root];
  }
};
