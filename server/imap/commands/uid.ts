// UID FETCH / STORE / SEARCH / COPY / MOVE / EXPUNGE (RFC 9051 §6.4.9, RFC 4315, RFC 6851): numbers are UIDs.
// UID commands may be followed by EXPUNGE responses, so the session announces pending expunges after them.
import type { CommandSpec } from '../session.js';
import { bad } from '../errors.js';
import { atom } from './args.js';
import { runCopy } from './copy.js';
import { runExpunge } from './expunge.js';
import { runFetch } from './fetch.js';
import { runSearch } from './search.js';
import { runStore } from './store.js';
import { resolveSet } from './sets.js';

export const uid: CommandSpec = {
  states: ['selected'],
  async handler(session, command) {
    const sub = atom(command.args[0], 'a UID command').toUpperCase();
    const args = command.args.slice(1);
    switch (sub) {
      case 'FETCH':
        return runFetch(session, command, args, true);
      case 'STORE':
        return runStore(session, command, args, true);
      case 'SEARCH':
        return runSearch(session, command, args, true);
      case 'COPY':
        return runCopy(session, command, args, true, false);
      case 'MOVE':
        return runCopy(session, command, args, true, true);
      case 'EXPUNGE':
        if (args.length !== 1) throw bad('UID EXPUNGE takes a UID set');
        return runExpunge(session, resolveSet(session, args[0], true));
      default:
        throw bad(`Unknown UID command ${sub.slice(0, 20)}`);
    }
  }
};
