// EXPUNGE (RFC 9051 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1): EXPUNGE or VANISHED responses, then OK.
import type { CommandSpec, ImapSession } from '../session.js';
import { no } from '../errors.js';
import { expungeAndPublish } from './close.js';

export async function runExpunge(session: ImapSession, ranges?: Array<[number, number]>) {
  const selected = session.selected!;
  if (selected.readOnly) throw no('READ-ONLY', 'Mailbox is read-only');
  const result = await expungeAndPublish(session, ranges);
  const lines = selected.expungeLines(result.uids, session.enabled.has('QRESYNC'));
  if (lines.length) session.write(lines.join('\r\n') + '\r\n');
  const text = ranges ? 'UID EXPUNGE completed' : 'EXPUNGE completed';
  return session.condstore ? { code: `HIGHESTMODSEQ ${result.modseq}`, text } : { text };
}

export const expunge: CommandSpec = {
  states: ['selected'],
  handler: (session) => runExpunge(session)
};
