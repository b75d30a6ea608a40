// Reading command arguments: astrings, lists, flags, numbers (RFC 9051 §9 grammar), with BAD for anything else.
import type { ImapCommand, ImapValue } from '../parser.js';
import { bad } from '../errors.js';

export function astring(value: ImapValue | undefined, what: string): string {
  if (value?.type === 'atom' && !value.section) return value.value;
  if (value?.type === 'nil') return 'NIL'; // an astring spelled NIL is the name "NIL" (RFC 9051 §9 astring)
  if (value?.type === 'string') return value.value.toString('utf8');
  throw bad(`Expected ${what}`);
}

export function atom(value: ImapValue | undefined, what: string): string {
  if (value?.type === 'atom' && !value.section) return value.value;
  throw bad(`Expected ${what}`);
}

export function list(value: ImapValue | undefined, what: string): ImapValue[] {
  if (value?.type === 'list') return value.items;
  throw bad(`Expected a parenthesized ${what}`);
}

/** A list or a single atom (several commands accept either). */
export function atoms(value: ImapValue | undefined, what: string): string[] {
  if (value?.type === 'list') return value.items.map((v) => atom(v, what));
  return [atom(value, what)];
}

export function number(value: ImapValue | undefined, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const text = value?.type === 'atom' ? value.value : '';
  if (!/^\d{1,20}$/.test(text) || Number(text) > max) throw bad(`Expected ${what}`);
  return Number(text);
}

export function argCount(command: ImapCommand, min: number, max = min): void {
  if (command.args.length < min || command.args.length > max) throw bad(`Wrong number of arguments for ${command.name}`);
}

const SYSTEM_FLAGS = new Set(['\\seen', '\\answered', '\\flagged', '\\deleted', '\\draft']);
/** Flags a client may set: system flags (canonical case) and keywords (atoms without specials, RFC 9051 §9 flag-keyword). */
export function flagList(value: ImapValue | undefined): string[] {
  const items = value?.type === 'list' ? value.items : value ? [value] : [];
  const out: string[] = [];
  for (const item of items) {
    const flag = atom(item, 'a flag');
    if (flag.startsWith('\\')) {
      const lower = flag.toLowerCase();
      if (!SYSTEM_FLAGS.has(lower)) throw bad(`${flag} cannot be set`);
      out.push('\\' + lower[1].toUpperCase() + lower.slice(2));
    } else {
      if (!/^[\x21-\x7e]+$/.test(flag) || /[(){%*"\\\]]/.test(flag) || flag.length > 100) throw bad(`Invalid keyword ${flag.slice(0, 40)}`);
      out.push(flag);
    }
  }
  if (out.length > 100) throw bad('Too many flags');
  return [...new Set(out)];
}

/** Mailbox names arrive as astrings; "INBOX" in any case is INBOX (RFC 9051 §5.1). */
export function mailboxName(value: ImapValue | undefined): string {
  return astring(value, 'a mailbox name');
}
