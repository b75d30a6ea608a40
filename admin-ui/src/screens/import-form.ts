// A new import (owner): the old provider's login (the port follows the encryption until the owner edits it), "Load
// folders", the remote folders with the proposed local folder in an editable select and the reason in plain words, the
// options, and Start. An API error naming a field is shown at that field.
import { api, ApiError, seg, type Encryption, type FolderProposal, type ImportJob, type MappingEntry, type RemoteFolderProposal, type RemoteLogin } from '../api.js';
import type { AppContext } from '../app.js';
import { button, field, form, h, section, submitButton, switchField, table, uniqueId, type Field } from '../dom.js';
import { announce, describeError, errorArea } from '../feedback.js';
import { count, formatBytes, formatNumber, known, t, type Key } from '../i18n.js';

const DEFAULT_PORT: Record<Encryption, number> = { tls: 993, starttls: 143, none: 143 };
const LOGIN_FIELDS = ['host', 'port', 'encryption', 'username', 'password'] as const;
type LoginField = (typeof LOGIN_FIELDS)[number];

/** An import error in words: the importer's own field/rule texts first, then the UI's general ones. */
export function importErrorText(err: unknown): string {
  if (err instanceof ApiError && err.field) {
    const field = err.field.replace(/^mapping\.\d+\./, 'mapping.');
    const key = known(`import.error.${field}.${err.rule}`) ?? known(`import.error.${field}`);
    if (key) return t(key, { message: err.message });
  }
  return describeError(err);
}

/** A folder path in bold, with line-break chances after its separators ("Posteingang/" "Kunden"). */
export function folderName(path: string): HTMLElement {
  return h('span', { class: 'folder-name' }, path.split(/(?<=[/.])/).flatMap((part, i) => (i ? [h('wbr'), part] : [part])));
}

/** The local folders' names, with what the special ones are for in the UI's language. */
function folderLabel(folder: { name: string; specialUse: string | null }): string {
  const use = folder.name === 'INBOX' ? 'inbox' : folder.specialUse?.replace('\\', '').toLowerCase();
  const key = use ? known(`import.use.${use}`) : null;
  return key ? `${folder.name} (${t(key)})` : folder.name;
}

/** A checkbox with its label beside it (a form setting rather than an on/off switch). */
export function checkboxField(label: string, checked: boolean, hint?: string): { element: HTMLElement; control: HTMLInputElement } {
  const control = h('input', { type: 'checkbox', checked, id: uniqueId('c') });
  const hintEl = hint ? h('span', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return { element: h('div', { class: 'field check' }, h('label', { for: control.id }, control, h('span', null, label)), hintEl), control };
}

interface MappingRow {
  folder: RemoteFolderProposal;
  /** index in the mapping sent to the API (selectable folders only), for errors named mapping.N.local */
  index: number;
  local(): string | null;
  setError(message: string | null): void;
  focus(): void;
}

/** The select (existing folders, the proposed new folder, another new folder, skip) and its reason line. */
function mappingRow(folder: RemoteFolderProposal, index: number, local: FolderProposal['localFolders'], onChange: () => void): MappingRow & { choice: HTMLElement; why: HTMLElement } {
  const why = h('span', null, t(`import.reason.${folder.reason}` as Key, { local: folder.local ?? '' }));
  if (!folder.selectable) return { folder, index, local: () => null, setError: () => undefined, focus: () => undefined, choice: h('span', { class: 'muted' }, '—'), why };
  const existing = new Set(local.map((f) => f.name));
  const option = (value: string, label: string, choice: string, selected: boolean) => h('option', { value, selected, 'data-choice': choice }, label);
  const select = h(
    'select',
    { 'aria-label': t('import.mapInto', { folder: folder.remote }) },
    option('', t('import.skip'), 'skip', folder.local === null),
    local.map((f) => option(f.name, folderLabel(f), 'folder', f.name === folder.local)),
    folder.local !== null && !existing.has(folder.local) ? option(folder.local, t('import.newFolder', { name: folder.local }), 'folder', true) : null,
    option('', t('import.otherFolder'), 'other', false)
  );
  const other = h('input', { type: 'text', hidden: true, maxLength: 1000, autocomplete: 'off', 'aria-label': t('import.otherName', { folder: folder.remote }) });
  const error = h('p', { class: 'field-error', hidden: true, id: uniqueId('map-error') });
  select.setAttribute('aria-describedby', error.id);
  other.setAttribute('aria-describedby', error.id);
  const choice = () => select.selectedOptions[0]?.dataset.choice;
  const value = () => (choice() === 'skip' ? null : choice() === 'other' ? other.value.trim() : select.value);
  const setError = (message: string | null) => {
    error.textContent = message ?? '';
    error.hidden = !message;
    for (const control of [select, other]) {
      if (message) control.setAttribute('aria-invalid', 'true');
      else control.removeAttribute('aria-invalid');
    }
  };
  const changed = () => {
    other.hidden = choice() !== 'other';
    why.textContent = value() === folder.local ? t(`import.reason.${folder.reason}` as Key, { local: folder.local ?? '' }) : t('import.reason.changed');
    setError(null);
    onChange();
  };
  select.addEventListener('change', () => {
    changed();
    if (!other.hidden) other.focus();
  });
  other.addEventListener('input', changed);
  return { folder, index, local: value, setError, focus: () => (choice() === 'other' ? other : select).focus(), choice: h('div', { class: 'mapping-choice' }, select, other, error), why };
}

/** What the chosen folders hold, and whether it fits the account's storage limit. */
function selectionSummary(proposal: FolderProposal, rows: MappingRow[]): Node[] {
  const chosen = rows.filter((r) => r.local() !== null);
  const messages = chosen.reduce((n, r) => n + (r.folder.messages ?? 0), 0);
  const sizes = chosen.map((r) => r.folder.bytes);
  const bytes = sizes.some((b) => b === null) ? null : sizes.reduce<number>((n, b) => n + (b ?? 0), 0);
  const { quota, usedBytes } = proposal.account;
  const text = t('import.selection', { folders: formatNumber(chosen.length), messages: count('messages', messages), size: bytes === null ? t('import.sizeUnknown') : formatBytes(bytes) });
  const tooMuch = quota > 0 && bytes !== null && usedBytes + bytes > quota;
  return [h('p', { class: 'selection' }, text), tooMuch ? h('p', { class: 'notice' }, t('import.overQuota', { used: formatBytes(usedBytes), quota: formatBytes(quota) })) : null].filter(Boolean) as Node[];
}

export function newImportSection(ctx: AppContext, address: string): HTMLElement {
  const host = field(t('import.host'), h('input', { type: 'text', autocomplete: 'off', spellcheck: false, autocapitalize: 'none', maxLength: 255, placeholder: 'imap.example.com' }), { hint: t('import.hostHint') });
  const encryption = field(
    t('import.encryption'),
    h('select', null, (['tls', 'starttls', 'none'] as const).map((e) => h('option', { value: e }, t(`import.encryption.${e}`)))),
    { hint: t('import.encryptionHint') }
  );
  const port = field(t('import.port'), h('input', { type: 'number', min: 1, max: 65535, step: 1, inputMode: 'numeric', value: String(DEFAULT_PORT.tls) }));
  const username = field(t('import.username'), h('input', { type: 'text', autocomplete: 'off', spellcheck: false, autocapitalize: 'none', maxLength: 320, value: address }), { hint: t('import.usernameHint') });
  const password = field(t('import.password'), h('input', { type: 'password', autocomplete: 'off', maxLength: 1024 }), { hint: t('import.passwordHint') });
  const verify = checkboxField(t('import.verifyCertificate'), true, t('import.verifyCertificateHint'));
  port.element.classList.add('narrow');
  const fields: Record<LoginField, Field> = { host, port, encryption, username, password };
  const loginError = errorArea();
  const mappingArea = h('div', { class: 'mapping', 'aria-live': 'polite' });

  // the port follows the encryption (993 for TLS, 143 otherwise) until the owner types one
  let portEdited = false;
  port.control.addEventListener('input', () => (portEdited = true));
  encryption.control.addEventListener('change', () => {
    if (!portEdited) port.control.value = String(DEFAULT_PORT[encryption.control.value as Encryption]);
  });
  // another server or account: the folders loaded belong to the old one
  for (const f of [host, port, encryption, username]) f.control.addEventListener('change', () => mappingArea.replaceChildren());
  for (const f of Object.values(fields)) f.control.addEventListener('input', () => f.setError(null));

  const login = (): RemoteLogin => ({
    host: host.control.value.trim(),
    port: Number(port.control.value),
    encryption: encryption.control.value as Encryption,
    username: username.control.value.trim(),
    password: password.control.value,
    verifyCertificate: verify.control.checked
  });

  /** Client-side checks before asking the server; false after showing the first problem at its field. */
  function loginComplete(): boolean {
    const problems: Array<[Field, string | null]> = [
      [host, host.control.value.trim() ? null : t('import.error.host.minLength')],
      [port, Number.isInteger(Number(port.control.value)) && Number(port.control.value) >= 1 && Number(port.control.value) <= 65535 ? null : t('import.error.port')],
      [username, username.control.value.trim() ? null : t('import.error.username.required')],
      [password, password.control.value ? null : t('import.error.password.required')]
    ];
    for (const [f, message] of problems) f.setError(message);
    const first = problems.find(([, message]) => message);
    first?.[0].control.focus();
    return !first;
  }

  /** An API error at the field it names (a login field or a mapping row), otherwise in the alert line. */
  function showError(err: unknown, rows: MappingRow[] = [], general = loginError): void {
    const name = err instanceof ApiError ? err.field : undefined;
    const row = name ? /^mapping\.(\d+)\./.exec(name) : null;
    const target = name && name in fields ? fields[name as LoginField] : null;
    if (target) {
      target.setError(importErrorText(err));
      target.control.focus();
    } else if (row && rows.find((r) => r.index === Number(row[1]))) {
      const hit = rows.find((r) => r.index === Number(row[1]))!;
      hit.setError(importErrorText(err));
      hit.focus();
    } else general.show(importErrorText(err));
  }

  function showMapping(proposal: FolderProposal): void {
    const selectable = proposal.folders.filter((f) => f.selectable);
    const summary = h('div', { class: 'selection-summary', 'aria-live': 'polite' });
    const rows = proposal.folders.map((f) => mappingRow(f, selectable.indexOf(f), proposal.localFolders, () => summary.replaceChildren(...selectionSummary(proposal, rows))));
    summary.replaceChildren(...selectionSummary(proposal, rows));
    const sync = switchField(t('import.sync'), false, t('import.syncHint'));
    const ignoreQuota = switchField(t('import.ignoreQuota'), false, t('import.ignoreQuotaHint'));
    const startError = errorArea();
    const start = button(t('import.start'), () => void startImport(), 'primary');

    async function startImport(): Promise<void> {
      startError.clear();
      const imported = rows.filter((r) => r.folder.selectable);
      const unnamed = imported.find((r) => r.local() === '');
      if (unnamed) {
        unnamed.setError(t('import.error.mapping.local.required'));
        return unnamed.focus();
      }
      if (!imported.some((r) => r.local() !== null)) return startError.show(t('import.error.mapping.minItems'));
      if (!loginComplete()) return;
      const mapping: MappingEntry[] = imported.map((r) => ({ remote: r.folder.remote, local: r.local() }));
      start.disabled = true;
      start.textContent = t('import.starting');
      try {
        const created = await api<{ import: ImportJob }>('POST', `/accounts/${seg(address)}/imports`, { ...login(), mapping, sync: sync.control.checked, ignoreQuota: ignoreQuota.control.checked });
        announce(t('import.started'));
        ctx.navigate(`/accounts/${encodeURIComponent(address)}/import/${created.import.id}`);
      } catch (err) {
        showError(err, rows, startError);
      } finally {
        start.disabled = false;
        start.textContent = t('import.start');
      }
    }

    mappingArea.replaceChildren(
      h('h3', null, t('import.mappingTitle')),
      h('p', null, t('import.mappingIntro')),
      table<(typeof rows)[number]>(
        t('import.mappingTitle'),
        [
          { label: t('import.remoteFolder'), cell: (r) => h('div', null, folderName(r.folder.remote), r.folder.selectable ? null : h('span', { class: 'hint' }, ` ${t('import.onlySubfolders')}`)) },
          { label: t('import.messages'), cell: (r) => (r.folder.messages === null ? '–' : formatNumber(r.folder.messages)), class: 'num' },
          { label: t('import.size'), cell: (r) => (r.folder.bytes === null ? '–' : formatBytes(r.folder.bytes)), class: 'num' },
          { label: t('import.localFolder'), cell: (r) => r.choice, class: 'choice' },
          { label: t('import.why'), cell: (r) => r.why, class: 'why' }
        ],
        rows,
        t('import.noFolders')
      ),
      summary,
      h('h3', null, t('import.options')),
      sync.element,
      ignoreQuota.element,
      startError.element,
      h('div', { class: 'actions' }, start)
    );
  }

  const load = form(
    async () => {
      loginError.clear();
      mappingArea.replaceChildren();
      if (!loginComplete()) return;
      mappingArea.replaceChildren(h('p', { class: 'loading' }, t('import.loading', { host: host.control.value.trim() })));
      try {
        showMapping(await api<FolderProposal>('POST', `/accounts/${seg(address)}/imports/folders`, login()));
        mappingArea.querySelector<HTMLElement>('h3')?.setAttribute('tabindex', '-1');
        mappingArea.querySelector<HTMLElement>('h3')?.focus();
      } catch (err) {
        mappingArea.replaceChildren();
        showError(err);
      }
    },
    h('div', { class: 'inline-fields' }, host.element, encryption.element, port.element),
    h('div', { class: 'inline-fields' }, username.element, password.element),
    verify.element,
    loginError.element,
    h('div', { class: 'actions start' }, submitButton(t('import.loadFolders')))
  );
  return section(t('import.new'), h('p', null, t('import.newIntro')), load, mappingArea);
}
