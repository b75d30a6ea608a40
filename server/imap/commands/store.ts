// STORE / UID STORE (RFC 9051 §6.4.6) with UNCHANGEDSINCE (RFC 7162 §3.1.3) and .SILENT.
import type { CommandSpec, ImapSession } from '../session.js';
import type { ImapCommand } from '../parser.js';
import { bad, no } from '../errors.js';
import { atom, flagList, list, number } from './args.js';
import { resolveSet } from './sets.js';
import { compactSet } from '../sequence.js';
import { updateFlags } from '../../store/mailbox-messages.js';

export async function runStore(session: ImapSession, command: ImapCommand, args: ImapCommand['args'], byUid: boolean) {
  const selected = session.selected!;
  if (selected.readOnly) throw no('READ-ONLY', 'Mailbox is read-only');
  let i = 0;
  const ranges = resolveSet(session, args[i++], byUid);
  let unchangedSince: number | undefined;
  if (args[i]?.type === 'list') {
    const mods = list(args[i++], 'STORE modifiers');
    for (let j = 0; j < mods.length; j += 2) {
      if (atom(mods[j], 'a modifier').toUpperCase() !== 'UNCHANGEDSINCE') throw bad('Unknown STORE modifier');
      unchangedSince = number(mods[j + 1], 'a mod-sequence');
    }
    session.condstore = true;
  }
  const item = atom(args[i++], 'a STORE data item').toUpperCase();
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(item);
  if (!m) throw bad(`Unknown STORE data item ${item}`);
  const mode = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set';
  const silent = Boolean(m[2]);
  const flags = flagList(args[i++]);
  if (i !== args.length) throw bad('Too many STORE arguments');

  const result = await session.ctx.services.writes.run((tx) => updateFlags(tx, selected.mailbox.id, ranges, mode, flags, unchangedSince));
  if (result.changed.length) selected.ownModseqs.add(result.changed[0].modseq);
  if (result.changed.length) session.publish({ mailboxId: selected.mailbox.id, kind: 'flags', uids: result.changed.map((c) => c.uid), modseq: result.changed[0].modseq });
  const lines: string[] = [];
  // RFC 7162 §3.1.3: with UNCHANGEDSINCE, changed messages are reported even with .SILENT (their MODSEQ)
  for (const c of result.changed) {
    const seq = selected.seqOf(c.uid);
    if (!seq) continue;
    const parts: string[] = [];
    if (byUid) parts.push(`UID ${c.uid}`);
    if (!silent) parts.push(`FLAGS (${c.flags.join(' ')})`);
    if (session.condstore) parts.push(`MODSEQ (${c.modseq})`);
    if (!silent || unchangedSince !== undefined) lines.push(`* ${seq} FETCH (${parts.join(' ')})`);
  }
  if (!silent) {
    for (const c of result.unchanged) {
      const seq = selected.seqOf(c.uid);
      if (seq) lines.push(`* ${seq} FETCH (${byUid ? `UID ${c.uid} ` : ''}FLAGS (${c.flags.join(' ')})${session.condstore ? ` MODSEQ (${c.modseq})` : ''})`);
    }
  }
  if (lines.length) session.write(lines.join('\r\n') + '\r\n');
  if (result.failed.length) {
    const failed = byUid ? result.failed : result.failed.map((u) => selected.seqOf(u)).filter(Boolean);
    return { code: `MODIFIED ${compactSet(failed.sort((a, b) => a - b))}`, text: 'Conditional STORE failed for some messages' };
  }
  return { text: `${command.name === 'UID' ? 'UID STORE' : 'STORE'} completed` };
}

export const store: CommandSpec = {
  states: ['selected'],
  holdsExpunge: true,
  handler: (session, command) => runStore(session, command, command.args, false)
};
