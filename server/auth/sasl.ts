// SASL for IMAP, POP3 and submission: PLAIN (RFC 4616), LOGIN, and the base64 client responses they travel in.
import { normalizeAddress } from '../directory/address.js';

export interface PlainCredentials {
  /** authorization identity; '' or the same user as authcid (no proxy authorization) */
  authzid: string;
  /** authentication identity: the user name */
  authcid: string;
  password: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8 decoding; null for malformed sequences. */
function decodeUtf8(bytes: Buffer): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** Whether two identities name the same user: by normalised address, or exactly when they are not addresses. */
function sameIdentity(a: string, b: string): boolean {
  const na = normalizeAddress(a);
  const nb = normalizeAddress(b);
  return na && nb ? na.address === nb.address : a === b;
}

/**
 * Parses a PLAIN response: `[authzid] NUL authcid NUL passwd` in UTF-8 (RFC 4616 §2). Null when malformed, when the
 * user name or password is empty, or when authzid names another user: Postfach has no proxy authorization, and RFC 4616
 * §2 lets the server refuse an identity it will not act as.
 */
export function parsePlain(response: Buffer): PlainCredentials | null {
  const first = response.indexOf(0);
  if (first < 0) return null;
  const second = response.indexOf(0, first + 1);
  if (second < 0) return null;
  if (response.indexOf(0, second + 1) >= 0) return null; // RFC 4616 §2: no field may contain NUL
  const authzid = decodeUtf8(response.subarray(0, first));
  const authcid = decodeUtf8(response.subarray(first + 1, second));
  const password = decodeUtf8(response.subarray(second + 1));
  if (authzid === null || authcid === null || password === null) return null;
  if (!authcid || !password) return null; // RFC 4616 §2: authcid and passwd are 1*SAFE
  if (authzid && !sameIdentity(authzid, authcid)) return null;
  return { authzid, authcid, password };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes base64 as RFC 4648 §4 defines it and nothing looser: no whitespace, no missing padding, no characters outside
 * the alphabet, no non-zero pad bits (§3.5, canonical encoding). Null when the text is not that.
 */
export function decodeBase64Strict(text: string): Buffer | null {
  if (!BASE64.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

export function encodeBase64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

export type ClientResponse = { kind: 'data'; data: Buffer } | { kind: 'cancel' } | { kind: 'invalid' };

/**
 * A client's answer to a server challenge (the line after `+ ` or `334 `): `*` cancels the exchange (RFC 9051 §6.2.2,
 * RFC 4954 §4, RFC 5034 §4), anything else must be strict base64. Line endings are the caller's to strip.
 */
export function parseClientResponse(line: string): ClientResponse {
  if (line === '*') return { kind: 'cancel' };
  const data = decodeBase64Strict(line);
  return data ? { kind: 'data', data } : { kind: 'invalid' };
}

/**
 * An initial response sent with the command (IMAP SASL-IR, RFC 4959 §3; SMTP, RFC 4954 §4; POP3, RFC 5034 §4):
 * `=` is an empty response; otherwise strict base64. `*` is not a cancel here, just invalid.
 */
export function parseInitialResponse(argument: string): ClientResponse {
  if (argument === '=') return { kind: 'data', data: Buffer.alloc(0) };
  const data = decodeBase64Strict(argument);
  return data ? { kind: 'data', data } : { kind: 'invalid' };
}

/** The next thing to do in an AUTH LOGIN exchange. */
export type LoginStep =
  /** send this (already base64) as the challenge and feed the client's answer to respond() */
  | { kind: 'challenge'; challenge: string }
  | { kind: 'done'; username: string; password: string }
  | { kind: 'cancel' }
  /** malformed base64, invalid UTF-8 or an empty field: fail the exchange */
  | { kind: 'invalid' };

/** The customary LOGIN prompts (draft-murchison-sasl-login §2.1); clients ignore their text. */
const USERNAME_CHALLENGE = encodeBase64('Username:');
const PASSWORD_CHALLENGE = encodeBase64('Password:');

/**
 * The LOGIN mechanism (draft-murchison-sasl-login, never an RFC but spoken by Outlook and many older clients): the
 * server prompts for the user name, then the password, each answered in base64. A step object per exchange:
 *
 *   const login = new LoginMechanism();
 *   let step = login.start(initialResponse);   // initial response = the user name, when the client sent one
 *   while (step.kind === 'challenge') step = login.respond(await readLine(`334 ${step.challenge}`));
 */
export class LoginMechanism {
  private username: string | null = null;
  private finished = false;

  /** Begins the exchange; an initial response (RFC 4954 §4) carries the user name. */
  start(initialResponse?: string): LoginStep {
    if (initialResponse === undefined) return { kind: 'challenge', challenge: USERNAME_CHALLENGE };
    return this.accept(parseInitialResponse(initialResponse));
  }

  /** Feeds the client's answer to the last challenge. */
  respond(line: string): LoginStep {
    return this.accept(parseClientResponse(line));
  }

  private accept(response: ClientResponse): LoginStep {
    if (this.finished) return { kind: 'invalid' };
    if (response.kind !== 'data') return this.end(response);
    const text = decodeUtf8(response.data);
    if (!text || text.includes('\0')) return this.end({ kind: 'invalid' });
    if (this.username === null) {
      this.username = text;
      return { kind: 'challenge', challenge: PASSWORD_CHALLENGE };
    }
    return this.end({ kind: 'done', username: this.username, password: text });
  }

  private end(step: LoginStep): LoginStep {
    this.finished = true;
    return step;
  }
}
