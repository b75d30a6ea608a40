// FETCH / UID FETCH (RFC 9051 §6.4.5) with BINARY (RFC 3516), CONDSTORE CHANGEDSINCE and QRESYNC VANISHED (RFC 7162).
// Envelope and body structure come from what was stored at delivery; the blob is read only for body sections.
import type { ImapCommand, ImapValue } from '../parser.js';
import type { CommandSpec, ImapSession } from '../session.js';
import { bad, no } from '../errors.js';
import { atom, list, number } from './args.js';
import { resolveSet } from './sets.js';
import { bodyStructureData, envelopeData, serialize } from '../format.js';
import { compactSet } from '../sequence.js';
import { expungedSince, fetchRows, uidRangeTest, updateFlags, type MessageRow, type UidRanges } from '../../store/mailbox-messages.js';
import { findPart, type MimePart } from '../../store/mime.js';
import { decodeTransferEncoding, headerFields, internalDateString } from './fetch-sections.js';

type Item =
  | { kind: 'UID' | 'FLAGS' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODYSTRUCTURE' | 'BODY' | 'MODSEQ' }
  | { kind: 'section'; name: 'BODY' | 'BINARY' | 'BINARY.SIZE' | 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT'; peek: boolean; path: number[]; text: string; fields: string[] | null; partial: { start: number; length: number | null } | null; label: string };

const MACROS: Record<string, string[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY']
};

/** Messages per database round trip: bounds memory on FETCH 1:* of a large mailbox. */
const CHUNK = 1000;

function parseSection(name: 'BODY' | 'BINARY' | 'BINARY.SIZE', value: ImapValue & { type: 'atom' }, peek: boolean): Item {
  const items = value.section ?? [];
  let spec = '';
  let fields: string[] | null = null;
  if (items.length) spec = atom(items[0], 'a section').toUpperCase();
  if (items.length > 1) fields = list(items[1], 'header field names').map((v) => (v.type === 'string' ? v.value.toString('latin1') : atom(v, 'a header field name')));
  if (items.length > 2) throw bad('Invalid section');
  const m = /^((?:[1-9]\d{0,8}\.)*[1-9]\d{0,8})?\.?(HEADER|HEADER\.FIELDS|HEADER\.FIELDS\.NOT|TEXT|MIME)?$/.exec(spec);
  if (!m || (spec && !m[1] && !m[2])) throw bad(`Invalid section ${spec.slice(0, 40)}`);
  const path = m[1] ? m[1].split('.').map(Number) : [];
  const text = m[2] ?? '';
  if ((text === 'HEADER.FIELDS' || text === 'HEADER.FIELDS.NOT') !== (fields !== null)) throw bad('HEADER.FIELDS needs a field list');
  if (text === 'MIME' && !path.length) throw bad('MIME needs a part number');
  if (name !== 'BODY' && text) throw bad('BINARY takes part numbers only');
  const fieldText = fields ? ` (${fields.map((f) => f.toUpperCase()).join(' ')})` : '';
  const label = `${name}[${spec}${fieldText}]`;
  return { kind: 'section', name, peek, path, text, fields, partial: value.partial ?? null, label };
}

export function parseItems(value: ImapValue | undefined): Item[] {
  const values = value?.type === 'list' ? value.items : value ? [value] : [];
  if (!values.length) throw bad('FETCH needs data items');
  const out: Item[] = [];
  for (const v of values) {
    if (v.type !== 'atom') throw bad('Invalid FETCH item');
    const name = v.value.toUpperCase();
    if (MACROS[name] && !v.section && values.length === 1) {
      for (const m of MACROS[name]) out.push({ kind: m as 'FLAGS' });
      continue;
    }
    if (v.section) {
      if (name === 'BODY' || name === 'BODY.PEEK') out.push(parseSection('BODY', v, name === 'BODY.PEEK'));
      else if (name === 'BINARY' || name === 'BINARY.PEEK') out.push(parseSection('BINARY', v, name === 'BINARY.PEEK'));
      else if (name === 'BINARY.SIZE') out.push(parseSection('BINARY.SIZE', v, true));
      else throw bad(`Invalid FETCH item ${name.slice(0, 40)}`);
      continue;
    }
    switch (name) {
      case 'UID':
      case 'FLAGS':
      case 'INTERNALDATE':
      case 'RFC822.SIZE':
      case 'ENVELOPE':
      case 'BODYSTRUCTURE':
      case 'BODY':
      case 'MODSEQ':
        out.push({ kind: name });
        break;
      case 'RFC822':
        out.push({ kind: 'section', name: 'RFC822', peek: false, path: [], text: '', fields: null, partial: null, label: 'RFC822' });
        break;
      case 'RFC822.HEADER':
        out.push({ kind: 'section', name: 'RFC822.HEADER', peek: true, path: [], text: 'HEADER', fields: null, partial: null, label: 'RFC822.HEADER' });
        break;
      case 'RFC822.TEXT':
        out.push({ kind: 'section', name: 'RFC822.TEXT', peek: false, path: [], text: 'TEXT', fields: null, partial: null, label: 'RFC822.TEXT' });
        break;
      default:
        throw bad(`Invalid FETCH item ${name.slice(0, 40)}`);
    }
  }
  return out;
}

/** The bytes of one section of a message (RFC 9051 §6.4.5 body section rules). */
function sectionBytes(raw: Buffer, root: MimePart, item: Extract<Item, { kind: 'section' }>): Buffer | null {
  let part: MimePart | null = item.path.length ? findPart(root, item.path) : root;
  if (!part) return null;
  if (item.name === 'BINARY' || item.name === 'BINARY.SIZE') {
    if (part.parts.length || (part.message && item.path.length)) return null;
    return decodeTransferEncoding(raw.subarray(part.bodyStart, part.bodyEnd), part.encoding);
  }
  // HEADER/TEXT of a message/rfc822 part address the encapsulated message (RFC 9051 §6.4.5)
  if (item.path.length && (item.text === 'HEADER' || item.text === 'TEXT' || item.text.startsWith('HEADER.')) && part.message) part = part.message.part;
  switch (item.text) {
    case '':
      return item.path.length ? raw.subarray(part.bodyStart, part.bodyEnd) : raw;
    case 'MIME':
    case 'HEADER':
      return raw.subarray(part.headerStart, part.bodyStart);
    case 'TEXT':
      return raw.subarray(part.bodyStart, part.bodyEnd);
    default:
      return headerFields(raw.subarray(part.headerStart, part.bodyStart), item.fields!, item.text === 'HEADER.FIELDS.NOT');
  }
}

function literal(data: Buffer, binary: boolean): Buffer {
  const isBinary = binary && data.includes(0);
  return Buffer.concat([Buffer.from(`${isBinary ? '~' : ''}{${data.length}}\r\n`), data]);
}

export async function runFetch(session: ImapSession, command: ImapCommand, args: ImapValue[], byUid: boolean) {
  const selected = session.selected!;
  const { services } = session.ctx;
  const ranges = resolveSet(session, args[0], byUid);
  const items = parseItems(args[1]);
  let changedSince: number | undefined;
  let vanished = false;
  if (args[2]) {
    const mods = list(args[2], 'FETCH modifiers');
    for (let i = 0; i < mods.length; i++) {
      const name = atom(mods[i], 'a FETCH modifier').toUpperCase();
      if (name === 'CHANGEDSINCE') changedSince = number(mods[++i], 'a mod-sequence');
      else if (name === 'VANISHED') vanished = true;
      else throw bad(`Unknown FETCH modifier ${name}`);
    }
    if (vanished && (!byUid || changedSince === undefined || !session.enabled.has('QRESYNC'))) throw bad('VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC (RFC 7162 §3.2.6)');
    session.condstore = true;
  }
  if (args.length > 3) throw bad('Too many FETCH arguments');
  if (items.some((i) => i.kind === 'MODSEQ')) session.condstore = true;
  if (byUid && !items.some((i) => i.kind === 'UID')) items.unshift({ kind: 'UID' });
  if (session.condstore && changedSince !== undefined && !items.some((i) => i.kind === 'MODSEQ')) items.push({ kind: 'MODSEQ' });

  if (vanished && changedSince !== undefined) {
    const gone = (await expungedSince(services.db, selected.mailbox.id, changedSince)).filter((u) => ranges.some(([lo, hi]) => u >= lo && u <= hi));
    if (gone.length) session.write(`* VANISHED (EARLIER) ${compactSet(gone)}\r\n`);
  }

  const needsBlob = items.some((i) => i.kind === 'section');
  const marksSeen = !selected.readOnly && items.some((i) => i.kind === 'section' && !i.peek);
  const utf8 = session.utf8;
  let missing = false;

  for (const chunk of chunkRanges(ranges, selected.uids)) {
    let rows = await fetchRows(services.db, selected.mailbox.id, chunk, changedSince);
    const seenNow = new Set<number>();
    if (marksSeen) rows = await markSeen(session, rows, seenNow);
    for (const row of rows) {
      const seq = selected.seqOf(row.uid);
      if (!seq) continue;
      const raw = needsBlob ? await services.blobs.read(row.blobId).catch(() => null) : null;
      if (needsBlob && !raw) {
        session.log.error({ uid: row.uid, blob: row.blobId }, 'message blob missing');
        missing = true;
        continue;
      }
      const structure = needsBlob || items.some((i) => i.kind === 'BODYSTRUCTURE' || i.kind === 'BODY') ? (JSON.parse(row.bodystructure) as MimePart) : null;
      const parts: Buffer[] = [Buffer.from(`* ${seq} FETCH (`)];
      let first = true;
      const add = (name: string, value: Buffer | string) => {
        parts.push(Buffer.from(`${first ? '' : ' '}${name} `));
        parts.push(typeof value === 'string' ? Buffer.from(value) : value);
        first = false;
      };
      for (const item of items) {
        switch (item.kind) {
          case 'UID':
            add('UID', String(row.uid));
            break;
          case 'FLAGS':
            add('FLAGS', `(${row.flags.join(' ')})`);
            break;
          case 'INTERNALDATE':
            add('INTERNALDATE', `"${internalDateString(row.internalDate)}"`);
            break;
          case 'RFC822.SIZE':
            add('RFC822.SIZE', String(row.size));
            break;
          case 'MODSEQ':
            add('MODSEQ', `(${row.modseq})`);
            break;
          case 'ENVELOPE':
            add('ENVELOPE', serialize(envelopeData(JSON.parse(row.envelope)), { utf8 }));
            break;
          case 'BODYSTRUCTURE':
          case 'BODY':
            add(item.kind, serialize(bodyStructureData(structure!, item.kind === 'BODYSTRUCTURE', { utf8 }), { utf8 }));
            break;
          case 'section': {
            let data = sectionBytes(raw!, structure!, item);
            if (data === null) {
              if (item.name === 'BINARY' || item.name === 'BINARY.SIZE') throw no('UNKNOWN-CTE', 'Cannot decode that part');
              data = Buffer.alloc(0);
            }
            if (item.name === 'BINARY.SIZE') {
              add(item.label, String(data.length));
              break;
            }
            let label = item.label;
            if (item.partial) {
              const start = Math.min(item.partial.start, data.length);
              const end = item.partial.length === null ? data.length : Math.min(data.length, start + item.partial.length);
              data = data.subarray(start, end);
              label += `<${item.partial.start}>`;
            }
            add(label, literal(data, item.name === 'BINARY'));
            break;
          }
        }
      }
      // RFC 9051 §6.4.5: flags changed by the implicit \Seen are returned too
      if (seenNow.has(row.uid) && !items.some((i) => i.kind === 'FLAGS')) add('FLAGS', `(${row.flags.join(' ')})`);
      parts.push(Buffer.from(')\r\n'));
      session.write(Buffer.concat(parts));
      // the client has these flags now: the catch-up after this command must not repeat them as unsolicited FETCH
      // (imapflow, for one, counts every FETCH during a FETCH command as a result and would list the message twice)
      if (row.modseq > selected.knownModseq && items.some((i) => i.kind === 'FLAGS')) selected.reportedFlags.set(row.uid, row.modseq);
    }
    await session.drain();
  }
  if (missing) throw no('SERVERBUG', 'Some messages could not be read');
  return { text: `${byUid ? 'UID ' : ''}FETCH completed` };
}

/** Splits the requested UID ranges into windows of at most CHUNK existing messages. */
function chunkRanges(ranges: UidRanges, uids: readonly number[]): UidRanges[] {
  const inRanges = uidRangeTest(ranges);
  const wanted = uids.filter(inRanges);
  const out: UidRanges[] = [];
  for (let i = 0; i < wanted.length; i += CHUNK) {
    const slice = wanted.slice(i, i + CHUNK);
    const chunk: UidRanges = [];
    let start = slice[0];
    let prev = slice[0];
    for (const u of slice.slice(1)) {
      if (u !== prev + 1 && !uidsBetween(uids, prev, u)) {
        chunk.push([start, prev]);
        start = u;
      }
      prev = u;
    }
    chunk.push([start, prev]);
    out.push(chunk);
  }
  return out;
}

/** True when no message of the mailbox lies strictly between two UIDs (so one range covers both). */
function uidsBetween(uids: readonly number[], a: number, b: number): boolean {
  let lo = 0;
  let hi = uids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (uids[mid] <= a) lo = mid + 1;
    else hi = mid;
  }
  return lo >= uids.length || uids[lo] >= b;
}

/** A non-PEEK body fetch sets \Seen (RFC 9051 §6.4.5); the new flags are returned with the data. */
async function markSeen(session: ImapSession, rows: MessageRow[], seenNow: Set<number>): Promise<MessageRow[]> {
  const unseen = rows.filter((r) => !r.flags.includes('\\Seen'));
  if (!unseen.length) return rows;
  const selected = session.selected!;
  const result = await session.ctx.services.writes.run((tx) => updateFlags(tx, selected.mailbox.id, unseen.map((r) => [r.uid, r.uid] as [number, number]), 'add', ['\\Seen']));
  if (result.changed.length) {
    selected.ownModseqs.add(result.changed[0].modseq);
    session.publish({ mailboxId: selected.mailbox.id, kind: 'flags', uids: result.changed.map((c) => c.uid), modseq: result.changed[0].modseq });
  }
  const byUid = new Map(result.changed.map((c) => [c.uid, c]));
  for (const uid of byUid.keys()) seenNow.add(uid);
  return rows.map((r) => {
    const c = byUid.get(r.uid);
    return c ? { ...r, flags: c.flags, modseq: c.modseq } : r;
  });
}

export const fetch: CommandSpec = {
  states: ['selected'],
  holdsExpunge: true,
  handler: (session, command) => runFetch(session, command, command.args, false)
};
