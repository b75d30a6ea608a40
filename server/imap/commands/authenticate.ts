// AUTHENTICATE PLAIN (RFC 9051 §6.2.2, RFC 4616) with SASL-IR (RFC 4959).
import { parseClientResponse, parseInitialResponse, parsePlain, type ClientResponse } from '../../auth/sasl.js';
import type { CommandSpec } from '../session.js';
import { bad, no } from '../errors.js';
import { atom } from './args.js';
import { completeLogin } from './login.js';

export const authenticate: CommandSpec = {
  states: ['not-authenticated'],
  async handler(session, command) {
    const mechanism = atom(command.args[0], 'a SASL mechanism').toUpperCase();
    if (mechanism !== 'PLAIN') throw no('CANNOT', 'Only AUTHENTICATE PLAIN is supported');
    if (session.loginDisabled) throw no('PRIVACYREQUIRED', 'Use STARTTLS (or port 993) before logging in');
    let response: ClientResponse;
    if (command.args[1]) response = parseInitialResponse(atom(command.args[1], 'an initial response'));
    else {
      session.write('+ \r\n');
      session.rawMode = true;
      const line = await session.readLine();
      session.rawMode = false;
      if (line === null) return { sent: true };
      response = parseClientResponse(line.toString('latin1').trim());
    }
    if (response.kind === 'cancel') throw bad('Authentication cancelled');
    if (response.kind === 'invalid') throw bad('Invalid base64 in the SASL response');
    const plain = parsePlain(response.data);
    if (!plain) throw no('AUTHENTICATIONFAILED', 'Invalid credentials');
    return completeLogin(session, plain.authcid, plain.password);
  }
};
