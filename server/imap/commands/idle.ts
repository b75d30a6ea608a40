// IDLE (RFC 2177, RFC 9051 §6.3.13): updates are written as they happen until the client sends DONE.
import type { CommandSpec } from '../session.js';
import { bad } from '../errors.js';

export const idle: CommandSpec = {
  states: ['authenticated', 'selected'],
  async handler(session) {
    await session.flushUpdates(true);
    session.write('+ idling\r\n');
    session.rawMode = true;
    session.idling = true;
    try {
      const line = await session.readLine();
      if (line === null) return { sent: true };
      if (line.toString('latin1').trim().toUpperCase() !== 'DONE') throw bad('Expected DONE');
    } finally {
      session.idling = false;
      session.rawMode = false;
    }
  }
};
