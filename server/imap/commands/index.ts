// The closed table of IMAP commands the session dispatches on (one file per command or command family).
import type { CommandSpec } from '../session.js';
import { append } from './append.js';
import { authenticate } from './authenticate.js';
import { capability } from './capability.js';
import { close, unselect } from './close.js';
import { compress } from './compress.js';
import { copy, move } from './copy.js';
import { enable } from './enable.js';
import { expunge } from './expunge.js';
import { fetch } from './fetch.js';
import { id } from './id.js';
import { idle } from './idle.js';
import { listCommand, lsub } from './list.js';
import { login } from './login.js';
import { logout } from './logout.js';
import { create, remove, rename, subscribe, unsubscribe } from './mailboxes.js';
import { namespace } from './namespace.js';
import { check, noop } from './noop.js';
import { getquota, getquotaroot } from './quota.js';
import { search } from './search.js';
import { examine, select } from './select.js';
import { starttls } from './starttls.js';
import { status } from './status.js';
import { store } from './store.js';
import { uid } from './uid.js';

export const COMMANDS: ReadonlyMap<string, CommandSpec> = new Map<string, CommandSpec>([
  ['CAPABILITY', capability],
  ['NOOP', noop],
  ['LOGOUT', logout],
  ['ID', id],
  ['STARTTLS', starttls],
  ['AUTHENTICATE', authenticate],
  ['LOGIN', login],
  ['ENABLE', enable],
  ['SELECT', select],
  ['EXAMINE', examine],
  ['CREATE', create],
  ['DELETE', remove],
  ['RENAME', rename],
  ['SUBSCRIBE', subscribe],
  ['UNSUBSCRIBE', unsubscribe],
  ['LIST', listCommand],
  ['LSUB', lsub],
  ['NAMESPACE', namespace],
  ['STATUS', status],
  ['APPEND', append],
  ['IDLE', idle],
  ['COMPRESS', compress],
  ['GETQUOTA', getquota],
  ['GETQUOTAROOT', getquotaroot],
  ['CHECK', check],
  ['CLOSE', close],
  ['UNSELECT', unselect],
  ['EXPUNGE', expunge],
  ['SEARCH', search],
  ['FETCH', fetch],
  ['STORE', store],
  ['COPY', copy],
  ['MOVE', move],
  ['UID', uid]
]);
