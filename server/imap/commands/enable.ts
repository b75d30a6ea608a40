// ENABLE (RFC 5161) for CONDSTORE, QRESYNC (RFC 7162), IMAP4rev2 (RFC 9051) and UTF8=ACCEPT (RFC 6855).
import type { CommandSpec } from '../session.js';
import { atom } from './args.js';
import { bad } from '../errors.js';

const SUPPORTED = new Set(['CONDSTORE', 'QRESYNC', 'IMAP4REV2', 'UTF8=ACCEPT']);

export const enable: CommandSpec = {
  states: ['authenticated', 'selected'],
  async handler(session, command) {
    if (!command.args.length) throw bad('ENABLE needs at least one capability');
    const newly: string[] = [];
    for (const arg of command.args) {
      const name = atom(arg, 'a capability').toUpperCase();
      if (!SUPPORTED.has(name) || session.enabled.has(name)) continue;
      session.enabled.add(name);
      newly.push(name === 'IMAP4REV2' ? 'IMAP4rev2' : name);
      // RFC 7162 §3.2.3: enabling QRESYNC implies CONDSTORE
      if (name === 'QRESYNC' || name === 'CONDSTORE') session.condstore = true;
      if (name === 'QRESYNC' && !session.enabled.has('CONDSTORE')) {
        session.enabled.add('CONDSTORE');
      }
    }
    session.write(`* ENABLED${newly.length ? ' ' + newly.join(' ') : ''}\r\n`);
  }
};
