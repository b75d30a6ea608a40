// One DNS record to set, as a card: the fields a DNS provider's form asks for (SRV: priority, weight, port, target),
// copy buttons, the zone-file line for the optional records, and the live check's verdict in plain words. An optional
// record that is not set is "not set (optional)", never an error.
import type { DnsRecord, RecordCheck } from '../api.js';
import { copyable } from '../copy.js';
import { badge, fill, h } from '../dom.js';
import { known, t, type Key } from '../i18n.js';

type Tone = 'ok' | 'warn' | 'bad' | 'neutral';
const STATUS_TONE: Record<RecordCheck['status'], Tone> = { ok: 'ok', missing: 'bad', wrong: 'warn', error: 'neutral' };

export const kindLabel = (record: Pick<DnsRecord, 'kind'>) => t(`dns.kind.${record.kind}` as Key);

/** An SRV record whose target is "." says the service is not offered (RFC 2782, RFC 6186 §4). */
const notOffered = (record: DnsRecord) => record.type === 'SRV' && record.value === '.';

const absolute = (name: string) => (name === '.' || name.endsWith('.') ? name : `${name}.`);

/** The record as one line of a zone file (RFC 1035 §5.1), for providers that take zone-file text. */
export function zoneLine(record: DnsRecord): string {
  const data = record.type === 'SRV' ? `${record.priority} ${record.weight} ${record.port} ${absolute(record.value)}` : absolute(record.value);
  return `${absolute(record.name)} 3600 IN ${record.type} ${data}`;
}

/** The record's own explanation: what it does, in the UI's language. */
function note(record: DnsRecord, params: Record<string, string>): string {
  if (record.type === 'SRV') return t(notOffered(record) ? 'dns.note.SRVoff' : 'dns.note.SRV', params);
  return t(`dns.note.${record.kind}` as Key, params);
}

/** What a check result means: the OK sentence or the problem code translated, the API's English text otherwise. */
function explanation(record: DnsRecord, check: RecordCheck, params: Record<string, string>): string {
  if (check.status === 'ok') {
    if (record.type === 'SRV') return t(notOffered(record) ? 'dns.ok.SRVoff' : 'dns.ok.SRV', params);
    return t(record.type === 'CNAME' ? 'dns.ok.CNAME' : (`dns.ok.${record.kind}` as Key), params);
  }
  const key = check.problem ? known(`dns.problem.${check.problem}`) : null;
  return key ? t(key, params) : check.message;
}

const pair = (label: string, value: Node | string) => [h('dt', null, label), h('dd', null, typeof value === 'string' ? h('code', null, value) : value)];

/** The record's fields in the order providers' forms ask for them; SRV's numbers and target side by side. */
function fields(record: DnsRecord, kind: string): HTMLElement[] {
  const main = h('dl', null, pair(t('dns.type'), record.type), pair(t('dns.name'), copyable(record.name, t('dns.copyName', { kind }))));
  const parts = [main];
  if (record.type === 'SRV') {
    const group = (label: string, value: Node | string) => h('div', null, pair(label, value));
    const target = notOffered(record) ? h('span', null, h('code', null, '.'), ' ', h('span', { class: 'muted' }, t('dns.notOffered'))) : copyable(record.value, t('dns.copyTarget', { kind }));
    parts.push(h('dl', { class: 'values' }, group(t('dns.priority'), String(record.priority)), group(t('dns.weight'), String(record.weight)), group(t('dns.port'), String(record.port)), h('div', { class: 'target' }, pair(t('dns.target'), target))));
  } else {
    if (record.priority !== undefined) main.append(...pair(t('dns.priority'), String(record.priority)));
    main.append(...(record.type === 'CNAME' ? pair(t('dns.target'), copyable(record.value, t('dns.copyTarget', { kind }))) : pair(t('dns.value'), copyable(record.value, t('dns.copyValue', { kind })))));
  }
  if (!record.required) parts.push(h('dl', null, pair(t('dns.zoneLine'), copyable(zoneLine(record), t('dns.copyZoneLine', { kind })))));
  return parts;
}

/** One record to set, with its live status (filled in when the check answers). */
export function recordCard(record: DnsRecord, domain: string, host: string): { element: HTMLElement; show(check: RecordCheck | null): void } {
  const kind = kindLabel(record);
  const params = { domain, host, name: record.name, target: record.value, port: String(record.port ?? '') };
  const state = h('span', { class: 'state' });
  const result = h('div', { class: 'check-result' });
  const element = h('article', { class: 'record' }, h('h3', null, h('span', { class: 'kind' }, kind), state), h('p', { class: 'hint' }, note(record, params)), ...fields(record, kind), result);
  return {
    element,
    show(check) {
      // an optional record nobody set is a suggestion, not a fault
      const unset = check !== null && !record.required && check.status === 'missing';
      element.className = `record ${check ? (unset ? 'unset' : check.status) : ''}`;
      state.replaceChildren(check ? (unset ? badge(t('dns.status.optionalMissing'), 'neutral') : badge(t(`dns.status.${check.status}`), STATUS_TONE[check.status])) : '');
      if (!check) return result.replaceChildren();
      const explained = explanation(record, check, { ...params, found: check.found.join(', ') });
      fill(
        result,
        h('p', { class: 'explanation' }, explained),
        check.status !== 'ok' && check.found.length ? h('p', { class: 'found' }, `${t('dns.found')}: `, h('code', null, check.found.join(' | '))) : null
      );
    }
  };
}
