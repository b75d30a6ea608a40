// Sequence sets of a command resolved to UID ranges: by sequence number (against the session's map) or by UID,
// and "$" for the saved search result (SEARCHRES, RFC 5182).
import type { ImapValue } from '../parser.js';
import type { ImapSession } from '../session.js';
import type { UidRanges } from '../../store/mailbox-messages.js';
import { bad } from '../errors.js';
import { parseSequenceSet } from '../sequence.js';

export function resolveSet(session: ImapSession, value: ImapValue | undefined, byUid: boolean): UidRanges {
  if (value?.type !== 'atom') throw bad('Expected a sequence set');
  const selected = session.selected!;
  if (value.value === '$') return session.searchResult.map((u) => [u, u] as [number, number]);
  let set;
  try {
    set = parseSequenceSet(value.value);
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (byUid) {
    const max = selected.uids.length ? selected.uids[selected.uids.length - 1] : 0;
    return set.resolve(max);
  }
  // RFC 9051 §9 seq-number: a number above the messages the client knows of is invalid
  if (set.highest > selected.exists) throw bad('Invalid sequence number: no such message');
  return selected.seqRangesToUids(set.resolve(selected.exists));
}
