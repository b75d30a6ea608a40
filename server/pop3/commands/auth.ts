// AUTH (RFC 5034): PLAIN (RFC 4616) and LOGIN with an optional initial response. RFC 5034 §4 requires a mechanism;
// a bare AUTH, which never became a standard, still answers the mechanism list that old Thunderbird and K-9 versions
// asked for with it before CAPA existed.
import { LoginMechanism, parseClientResponse, parseInitialResponse, parsePlain, type ClientResponse } from '../../auth/sasl.js';
import { malformed, Pop3Error, refuse } from '../errors.js';
import type { CommandSpec, Pop3Session } from '../session.js';
import { SASL_MECHANISMS } from './capa.js';
import { completeLogin, requireLoginAllowed } from './pass.js';

/** Sends a challenge (RFC 5034 §4: "+" SP base64) and reads the client's answer; null when the connection closed. */
async function challenge(session: Pop3Session, text: string): Promise<string | null> {
  session.write(`+ ${text}\r\n`);
  return session.readLine();
}

function credentialsFrom(response: ClientResponse): Buffer {
  if (response.kind === 'cancel') throw refuse('Authentication cancelled'); // RFC 5034 §4: "*" cancels
  if (response.kind === 'invalid') throw malformed('Invalid base64 in the SASL response');
  return response.data;
}

async function plain(session: Pop3Session, initial: string | undefined): Promise<string | void> {
  let response: ClientResponse;
  if (initial !== undefined) response = parseInitialResponse(initial);
  else {
    const line = await challenge(session, '');
    if (line === null) return;
    response = parseClientResponse(line);
  }
  const credentials = parsePlain(credentialsFrom(response));
  if (!credentials) throw new Pop3Error('AUTH', 'Invalid credentials');
  return completeLogin(session, credentials.authcid, credentials.password);
}

async function login(session: Pop3Session, initial: string | undefined): Promise<string | void> {
  const mechanism = new LoginMechanism();
  let step = mechanism.start(initial);
  while (step.kind === 'challenge') {
    const line = await challenge(session, step.challenge);
    if (line === null) return;
    step = mechanism.respond(line);
  }
  if (step.kind === 'cancel') throw refuse('Authentication cancelled');
  if (step.kind === 'invalid') throw malformed('Invalid base64 in the SASL response');
  return completeLogin(session, step.username, step.password);
}

export const auth: CommandSpec = {
  states: ['authorization'],
  async handler(session, command) {
    requireLoginAllowed(session);
    if (!command.args.length) {
      session.writeList('Supported mechanisms follow', SASL_MECHANISMS);
      return;
    }
    if (command.args.length > 2) throw malformed('AUTH takes a mechanism and an optional initial response');
    const [mechanism, initial] = [command.args[0].toUpperCase(), command.args[1]];
    if (mechanism === 'PLAIN') return plain(session, initial);
    if (mechanism === 'LOGIN') return login(session, initial);
    throw refuse(`Unsupported mechanism; use ${SASL_MECHANISMS.join(' or ')}`);
  }
};
