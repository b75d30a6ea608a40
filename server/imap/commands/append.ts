// APPEND (RFC 9051 §6.3.12) with APPENDUID (RFC 4315 §3), APPENDLIMIT (RFC 7889) and quota (RFC 9208 OVERQUOTA).
import type { CommandSpec } from '../session.js';
import { bad, no } from '../errors.js';
import { astring, flagList } from './args.js';
import { readMailboxName } from './names.js';
import { findMailbox } from '../../store/mailboxes.js';
import { prepareMessage, storeMessage } from '../../store/messages.js';
import { quotaUsage } from '../../store/mailbox-messages.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** date-time = "dd-Mon-yyyy hh:mm:ss +zzzz" (RFC 9051 §9). */
export function parseDateTime(text: string): number | null {
  const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (!m) return null;
  const month = MONTHS.findIndex((x) => x.toLowerCase() === m[2].toLowerCase());
  if (month < 0) return null;
  const offset = (Number(m[8]) * 60 + Number(m[9])) * (m[7] === '-' ? -1 : 1);
  const utc = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(utc) ? null : utc - offset * 60_000;
}

export const append: CommandSpec = {
  states: ['authenticated', 'selected'],
  async handler(session, command) {
    const args = command.args;
    const name = readMailboxName(session, args[0]);
    let i = 1;
    let flags: string[] = [];
    let internalDate = Date.now();
    if (args[i]?.type === 'list') flags = flagList(args[i++]);
    // a string followed by something else is the date-time; a string at the end is the message
    if (args[i]?.type === 'string' && args[i + 1]) {
      const parsed = parseDateTime(astring(args[i++], 'a date-time'));
      if (parsed === null) throw bad('Invalid date-time');
      internalDate = parsed;
    }
    // RFC 6855 §4: with UTF8=ACCEPT the message may come as UTF8 (literal8)
    let literal: (typeof args)[number] | undefined = args[i++];
    if (literal?.type === 'atom' && literal.value.toUpperCase() === 'UTF8' && args[i]?.type === 'list') {
      const inner = (args[i++] as { type: 'list'; items: typeof args }).items;
      literal = inner.length === 1 ? inner[0] : undefined;
    }
    if (literal?.type !== 'string' || i !== args.length) throw bad('APPEND takes mailbox [flags] [date-time] message');
    const raw = literal.value;
    if (!raw.length) throw bad('Empty message');
    const { services } = session.ctx;
    const config = services.config;
    if (raw.length > config.imap.appendLimit) throw no('TOOBIG', `Message exceeds APPENDLIMIT ${config.imap.appendLimit}`);
    const mailbox = await findMailbox(services.db, session.account!.id, name);
    if (!mailbox) throw no('TRYCREATE', 'No such mailbox');
    const account = await quotaUsage(services.db, session.account!.id);
    if (account.quota && account.used_bytes + raw.length > account.quota) throw no('OVERQUOTA', 'Mailbox is full');
    const prepared = prepareMessage(raw);
    const blob = await services.blobs.write([raw]);
    try {
      const [stored] = await services.writes.run((tx) =>
        storeMessage(tx, blob, prepared, [{ accountId: session.account!.id, specialUse: null, mailboxId: mailbox.id, flags: flags.filter((f) => f !== '\\Recent') }], internalDate)
      );
      services.blobs.release(blob.id);
      session.publish({ mailboxId: mailbox.id, kind: 'exists', uids: [stored.uid], modseq: stored.modseq });
      if (session.selected?.mailbox.id === mailbox.id) session.selected.dirty = true;
      return { code: `APPENDUID ${mailbox.uidvalidity} ${stored.uid}`, text: 'APPEND completed' };
    } catch (err) {
      services.blobs.release(blob.id);
      await services.blobs.unlinkUnreferenced(services.db, [blob.id]).catch(() => 0);
      throw err;
    }
  }
};
