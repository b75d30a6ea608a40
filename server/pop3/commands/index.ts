// The POP3 command table: keyword -> states and handler.
import type { CommandSpec } from '../session.js';
import { auth } from './auth.js';
import { capa } from './capa.js';
import { dele } from './dele.js';
import { list } from './list.js';
import { noop } from './noop.js';
import { pass } from './pass.js';
import { quit } from './quit.js';
import { retr } from './retr.js';
import { rset } from './rset.js';
import { stat } from './stat.js';
import { stls } from './stls.js';
import { top } from './top.js';
import { uidl } from './uidl.js';
import { user } from './user.js';

export const COMMANDS: ReadonlyMap<string, CommandSpec> = new Map(
  Object.entries({ CAPA: capa, STLS: stls, USER: user, PASS: pass, AUTH: auth, STAT: stat, LIST: list, UIDL: uidl, RETR: retr, TOP: top, DELE: dele, RSET: rset, NOOP: noop, QUIT: quit })
);
