// LIST and LSUB (RFC 9051 §6.3.9, RFC 3501 §6.3.9) with LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819),
// SPECIAL-USE (RFC 6154) and CHILDREN (RFC 3348) attributes.
import type { Mailbox } from '../../db/schema.js';
import type { ImapValue } from '../parser.js';
import type { CommandSpec, ImapSession } from '../session.js';
import { bad } from '../errors.js';
import { astring, atom, list as listArg } from './args.js';
import { quoteMailboxName } from './names.js';
import { statusItems, statusLine } from './status.js';
import { decodeMutf7 } from '../mutf7.js';
import { listMailboxes } from '../../store/mailboxes.js';

/** '*' matches anything, '%' anything but the delimiter (RFC 9051 §6.3.9). */
function patternRegex(pattern: string): RegExp {
  // INBOX is case-insensitive, also at the start of a pattern ("InBoX*"); names below it are not
  const canonical = /^inbox(?=$|[/*%])/i.test(pattern) ? 'INBOX' + pattern.slice(5) : pattern;
  const escaped = canonical.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/%/g, '[^/]*');
  return new RegExp(`^${escaped}$`);
}

function wireToName(session: ImapSession, raw: string): string {
  if (session.utf8) return raw;
  return decodeMutf7(raw) ?? raw;
}

interface ListOptions {
  subscribedOnly: boolean;
  recursiveMatch: boolean;
  specialUseOnly: boolean;
  returnSubscribed: boolean;
  returnStatus: string[] | null;
  lsub: boolean;
}

async function listResponse(session: ImapSession, reference: string, patterns: string[], options: ListOptions): Promise<void> {
  const all = await listMailboxes(session.ctx.services.db, session.account!.id);
  const hasChildren = (name: string) => all.some((m) => m.name.startsWith(name + '/'));
  const lines: string[] = [];
  const seen = new Set<string>();
  const verb = options.lsub ? 'LSUB' : 'LIST';
  for (const pattern of patterns) {
    if (pattern === '' && !options.lsub) {
      // RFC 9051 §6.3.9: an empty pattern asks for the delimiter and root
      lines.push(`* LIST (\\Noselect) "/" ""`);
      continue;
    }
    // RFC 9051 §6.3.9: reference and pattern are simply joined; clients end a reference with "/" when they mean a level
    const full = reference + pattern;
    const re = patternRegex(full);
    const matches: Mailbox[] = all.filter((m) => re.test(m.name));
    for (const mailbox of matches) {
      if (seen.has(mailbox.name)) continue;
      if ((options.subscribedOnly || options.lsub) && !mailbox.subscribed) continue;
      if (options.specialUseOnly && !mailbox.special_use) continue;
      seen.add(mailbox.name);
      const attrs: string[] = [];
      if (!options.lsub) attrs.push(hasChildren(mailbox.name) ? '\\HasChildren' : '\\HasNoChildren');
      if (mailbox.special_use) attrs.push(mailbox.special_use);
      if (options.returnSubscribed && mailbox.subscribed) attrs.push('\\Subscribed');
      lines.push(`* ${verb} (${attrs.join(' ')}) "/" ${quoteMailboxName(session, mailbox.name)}`);
      if (options.returnStatus && !options.lsub) lines.push(await statusLine(session, mailbox, options.returnStatus));
    }
  }
  if (lines.length) session.write(lines.join('\r\n') + '\r\n');
}

function patternList(session: ImapSession, value: ImapValue | undefined): string[] {
  if (value?.type === 'list') return value.items.map((v) => wireToName(session, astring(v, 'a pattern')));
  return [wireToName(session, astring(value, 'a mailbox pattern'))];
}

export const listCommand: CommandSpec = {
  states: ['authenticated', 'selected'],
  async handler(session, command) {
    const args = [...command.args];
    const options: ListOptions = { subscribedOnly: false, recursiveMatch: false, specialUseOnly: false, returnSubscribed: false, returnStatus: null, lsub: false };
    if (args[0]?.type === 'list') {
      for (const opt of listArg(args.shift(), 'selection options').map((v) => atom(v, 'a selection option').toUpperCase())) {
        if (opt === 'SUBSCRIBED') {
          options.subscribedOnly = true;
          options.returnSubscribed = true;
        } else if (opt === 'RECURSIVEMATCH') options.recursiveMatch = true;
        else if (opt === 'SPECIAL-USE') options.specialUseOnly = true;
        else if (opt === 'REMOTE') continue;
        else throw bad(`Unknown LIST selection option ${opt}`);
      }
      if (options.recursiveMatch && !options.subscribedOnly) throw bad('RECURSIVEMATCH needs another selection option (RFC 5258 §3)');
    }
    if (args.length < 2) throw bad('LIST needs a reference and a pattern');
    const reference = wireToName(session, astring(args.shift(), 'a reference'));
    const patterns = patternList(session, args.shift());
    if (args.length) {
      if (atom(args.shift(), 'RETURN').toUpperCase() !== 'RETURN') throw bad('Expected RETURN');
      const opts = listArg(args.shift(), 'return options');
      for (let i = 0; i < opts.length; i++) {
        const opt = atom(opts[i], 'a return option').toUpperCase();
        if (opt === 'SUBSCRIBED') options.returnSubscribed = true;
        else if (opt === 'CHILDREN' || opt === 'SPECIAL-USE') continue; // always returned
        else if (opt === 'STATUS') options.returnStatus = statusItems(listArg(opts[++i], 'status items'));
        else throw bad(`Unknown LIST return option ${opt}`);
      }
    }
    await listResponse(session, reference, patterns, options);
  }
};

export const lsub: CommandSpec = {
  states: ['authenticated', 'selected'],
  async handler(session, command) {
    if (command.args.length !== 2) throw bad('LSUB needs a reference and a pattern');
    const reference = wireToName(session, astring(command.args[0], 'a reference'));
    const patterns = patternList(session, command.args[1]);
    await listResponse(session, reference, patterns, { subscribedOnly: true, recursiveMatch: false, specialUseOnly: false, returnSubscribed: false, returnStatus: null, lsub: true });
  }
};
