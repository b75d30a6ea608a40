// SEARCH / UID SEARCH (RFC 9051 §6.4.4) with ESEARCH result options (RFC 4731), SEARCHRES (RFC 5182) and MODSEQ (RFC 7162 §3.1.5).
import type { ImapCommand, ImapValue } from '../parser.js';
import type { CommandSpec, ImapSession } from '../session.js';
import { bad, no } from '../errors.js';
import { astring, atom, list } from './args.js';
import { resolveSet } from './sets.js';
import { compactSet } from '../sequence.js';
import { parseSearchKeys, SearchKeyError, usesModseq } from '../search-keys.js';
import { searchMailbox } from '../../store/search.js';

const RETURN_OPTIONS = new Set(['MIN', 'MAX', 'COUNT', 'ALL', 'SAVE']);

export async function runSearch(session: ImapSession, command: ImapCommand, input: ImapValue[], byUid: boolean) {
  const selected = session.selected!;
  const { services } = session.ctx;
  const args = [...input];
  let returns: string[] | null = null;
  if (args[0]?.type === 'atom' && args[0].value.toUpperCase() === 'RETURN') {
    args.shift();
    returns = list(args.shift(), 'RETURN options').map((v) => atom(v, 'a RETURN option').toUpperCase());
    for (const r of returns) if (!RETURN_OPTIONS.has(r)) throw bad(`Unknown RETURN option ${r}`);
    if (!returns.length) returns = ['ALL'];
  }
  // RFC 5182 §2.1: a SEARCH with SAVE that fails leaves "$" empty; "$" inside this search still means the previous result
  const previous = session.searchResult;
  if (returns?.includes('SAVE')) session.searchResult = [];
  let charset: string | undefined;
  if (args[0]?.type === 'atom' && args[0].value.toUpperCase() === 'CHARSET') {
    args.shift();
    charset = astring(args.shift(), 'a charset');
  }
  let key;
  try {
    key = parseSearchKeys(args, charset);
  } catch (err) {
    if (err instanceof SearchKeyError) {
      if (err.badCharset) throw no('BADCHARSET (UTF-8 US-ASCII)', err.message);
      throw bad(err.message);
    }
    throw err;
  }
  const modseqWanted = usesModseq(key);
  if (modseqWanted) session.condstore = true;
  const result = await searchMailbox(
    services.db,
    selected.mailbox.id,
    key,
    {
      seq: (set: string) => resolveSet(session, { type: 'atom', value: set }, false),
      uid: (set: string) => resolveSet(session, { type: 'atom', value: set }, true),
      saved: () => previous.map((u) => [u, u] as [number, number])
    },
    (blobId: string) => services.blobs.read(blobId)
  );
  // only messages this session knows about; deliveries not yet announced stay out of sequence numbers
  const kept = result.uids.map((u, i) => [u, result.modseqs[i]] as const).filter(([u]) => selected.seqOf(u) > 0);
  const uids = kept.map(([u]) => u);
  // RFC 7162 §3.1.5: the highest modseq among the messages returned, not among all matches
  const highestModseq = kept.reduce((max, [, m]) => Math.max(max, m), 0);
  const numbers = byUid ? uids : uids.map((u) => selected.seqOf(u));
  if (returns?.includes('SAVE')) {
    // RFC 5182 §2.1: SAVE with MIN and/or MAX but neither ALL nor COUNT saves only the messages MIN/MAX return
    const minMaxOnly = (returns.includes('MIN') || returns.includes('MAX')) && !returns.includes('ALL') && !returns.includes('COUNT');
    const first = uids[0];
    const last = uids[uids.length - 1];
    session.searchResult = minMaxOnly && uids.length ? [...new Set([returns.includes('MIN') ? first : last, returns.includes('MAX') ? last : first])] : uids;
  }
  const rev2 = session.enabled.has('IMAP4REV2');
  if (returns || rev2) {
    const options = returns ?? ['ALL'];
    const parts = [`* ESEARCH (TAG "${command.tag.replace(/["\\]/g, '')}")`];
    if (byUid) parts.push('UID');
    if (numbers.length) {
      if (options.includes('MIN')) parts.push(`MIN ${numbers[0]}`);
      if (options.includes('MAX')) parts.push(`MAX ${numbers[numbers.length - 1]}`);
      if (options.includes('ALL')) parts.push(`ALL ${compactSet(numbers)}`);
    }
    if (options.includes('COUNT')) parts.push(`COUNT ${numbers.length}`);
    if (modseqWanted && numbers.length) parts.push(`MODSEQ ${highestModseq}`);
    // RFC 5182 §2.1: SAVE alone (or with only itself) sends no ESEARCH
    if (!(returns && returns.length === 1 && returns[0] === 'SAVE')) session.write(parts.join(' ') + '\r\n');
  } else {
    const modseq = modseqWanted && numbers.length ? ` (MODSEQ ${highestModseq})` : '';
    session.write(`* SEARCH${numbers.length ? ' ' + numbers.join(' ') : ''}${modseq}\r\n`);
  }
  return { text: `${byUid ? 'UID ' : ''}SEARCH completed` };
}

export const search: CommandSpec = {
  states: ['selected'],
  holdsExpunge: true,
  handler: (session, command) => runSearch(session, command, command.args, false)
};
