// STLS (RFC 2595 §4): TLS on the plain port, only before login and only once.
import { refuse } from '../errors.js';
import type { CommandSpec } from '../session.js';
import { noArguments } from './list.js';

export const stls: CommandSpec = {
  states: ['authorization'],
  async handler(session, command) {
    noArguments(command);
    if (session.secure) throw refuse('Already using TLS');
    session.write('+OK Begin TLS negotiation\r\n');
    // a USER given in clear is forgotten with everything else said before the handshake
    session.user = null;
    await session.startTls();
  }
};
