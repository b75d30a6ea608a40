// ID (RFC 2971): the client's identification is logged; ours is returned.
import type { CommandSpec } from '../session.js';
import { bad } from '../errors.js';

export const id: CommandSpec = {
  states: ['not-authenticated', 'authenticated', 'selected'],
  async handler(session, command) {
    const arg = command.args[0];
    if (command.args.length !== 1 || (arg.type !== 'nil' && arg.type !== 'list')) throw bad('ID takes a parameter list or NIL');
    if (arg.type === 'list') {
      const fields: Record<string, string> = {};
      // RFC 2971 §3.3: at most 30 field-value pairs, keys up to 30 octets, values up to 1024
      for (let i = 0; i + 1 < arg.items.length && i < 60; i += 2) {
        const key = arg.items[i];
        const value = arg.items[i + 1];
        if (key.type === 'string' && value.type === 'string') fields[key.value.toString('utf8').slice(0, 30)] = value.value.toString('utf8').slice(0, 1024);
      }
      session.log.info({ clientId: fields }, 'client ID');
    }
    session.write('* ID ("name" "Postfach" "vendor" "Postfach")\r\n');
  }
};
