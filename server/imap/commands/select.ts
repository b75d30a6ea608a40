// SELECT and EXAMINE (RFC 9051 §6.3.2-3) with CONDSTORE and QRESYNC parameters (RFC 7162 §3.1.8, §3.2.5).
import type { CommandSpec, ImapSession } from '../session.js';
import type { ImapCommand } from '../parser.js';
import { bad, no } from '../errors.js';
import { atom, list, number } from './args.js';
import { readMailboxName, quoteMailboxName } from './names.js';
import { findMailbox } from '../../store/mailboxes.js';
import { expungedSince, fetchRows, firstUnseenUid } from '../../store/mailbox-messages.js';
import { SelectedMailbox, sharedUidList } from '../selected.js';
import { compactSet, parseSequenceSet } from '../sequence.js';

export const SYSTEM_FLAGS = '\\Answered \\Flagged \\Deleted \\Seen \\Draft';
const COMMON_KEYWORDS = '$Forwarded $MDNSent $Junk $NotJunk $Phishing';

interface QresyncParams {
  uidvalidity: number;
  modseq: number;
  knownUids?: string;
}

function readParams(session: ImapSession, command: ImapCommand): { qresync: QresyncParams | null } {
  const params = command.args[1];
  if (!params) return { qresync: null };
  const items = list(params, 'SELECT parameter list');
  let qresync: QresyncParams | null = null;
  for (let i = 0; i < items.length; i++) {
    const name = atom(items[i], 'a SELECT parameter').toUpperCase();
    if (name === 'CONDSTORE') session.condstore = true;
    else if (name === 'QRESYNC') {
      if (!session.enabled.has('QRESYNC')) throw bad('QRESYNC must be enabled first (RFC 7162 §3.2.3)');
      const q = list(items[++i], 'QRESYNC parameters');
      qresync = { uidvalidity: number(q[0], 'a UIDVALIDITY', 0xffffffff), modseq: number(q[1], 'a mod-sequence') };
      if (q[2] && q[2].type === 'atom') qresync.knownUids = q[2].value;
    } else throw bad(`Unknown SELECT parameter ${name}`);
  }
  return { qresync };
}

async function open(session: ImapSession, command: ImapCommand, readOnly: boolean) {
  const { db } = session.ctx.services;
  // RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected; RFC 7162 §3.2.11 [CLOSED]
  if (session.selected) session.write('* OK [CLOSED] Previous mailbox closed\r\n');
  session.selected = null;
  session.state = 'authenticated';
  const name = readMailboxName(session, command.args[0]);
  const { qresync } = readParams(session, command);
  const mailbox = await findMailbox(db, session.account!.id, name);
  if (!mailbox) throw no('NONEXISTENT', 'No such mailbox');
  const uids = await sharedUidList(db, mailbox);
  const selected = new SelectedMailbox(mailbox, readOnly, uids);
  const lines: string[] = [];
  lines.push(`* ${uids.length} EXISTS`);
  const rev2 = session.enabled.has('IMAP4REV2');
  if (!rev2) {
    lines.push('* 0 RECENT');
    const firstUnseen = await firstUnseenUid(db, mailbox.id);
    if (firstUnseen) lines.push(`* OK [UNSEEN ${selected.seqOf(firstUnseen)}] First unseen`);
  }
  lines.push(`* OK [UIDVALIDITY ${mailbox.uidvalidity}] UIDs valid`);
  lines.push(`* OK [UIDNEXT ${mailbox.uidnext}] Predicted next UID`);
  lines.push(`* FLAGS (${SYSTEM_FLAGS} ${COMMON_KEYWORDS})`);
  lines.push(readOnly ? '* OK [PERMANENTFLAGS ()] Read-only mailbox' : `* OK [PERMANENTFLAGS (${SYSTEM_FLAGS} ${COMMON_KEYWORDS} \\*)] Flags permitted`);
  lines.push(`* OK [HIGHESTMODSEQ ${mailbox.highestmodseq}] Highest`);
  // RFC 9051 §6.3.2: the LIST response carries the mailbox's attributes (special use included)
  if (rev2) lines.push(`* LIST (${mailbox.special_use ?? ''}) "/" ${quoteMailboxName(session, mailbox.name)}`);
  if (qresync && qresync.uidvalidity === mailbox.uidvalidity) {
    // RFC 7162 §3.2.5.1: what vanished and what changed since the client's last known modseq
    let vanished = await expungedSince(db, mailbox.id, qresync.modseq);
    if (qresync.knownUids) {
      const known = parseSequenceSet(qresync.knownUids);
      vanished = vanished.filter((u) => known.includes(u, 0xffffffff));
    }
    if (vanished.length) lines.push(`* VANISHED (EARLIER) ${compactSet(vanished)}`);
    const changed = await fetchRows(db, mailbox.id, [[1, 0xffffffff]], qresync.modseq);
    for (const row of changed) lines.push(`* ${selected.seqOf(row.uid)} FETCH (UID ${row.uid} FLAGS (${row.flags.join(' ')}) MODSEQ (${row.modseq}))`);
  }
  session.write(lines.join('\r\n') + '\r\n');
  session.selected = selected;
  session.searchResult = []; // RFC 5182 §2.1: SELECT and EXAMINE reset "$"
  session.state = 'selected';
  return { code: readOnly ? 'READ-ONLY' : 'READ-WRITE', text: `${command.name} completed` };
}

export const select: CommandSpec = {
  states: ['authenticated', 'selected'],
  handler: (session, command) => open(session, command, false)
};

export const examine: CommandSpec = {
  states: ['authenticated', 'selected'],
  handler: (session, command) => open(session, command, true)
};
