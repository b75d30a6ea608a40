// POP3 error responses: `-ERR [code] text` with the response codes of RFC 2449 §8 and RFC 3206.
export type RespCode =
  /** the credentials are at fault (RFC 3206 §4): the client should ask the user for the password again */
  | 'AUTH'
  /** a temporary condition (RFC 3206 §5): try again later without asking the user anything */
  | 'SYS/TEMP'
  /** a permanent condition the user cannot fix by retrying (RFC 3206 §5) */
  | 'SYS/PERM'
  /** the maildrop is locked by another POP3 session (RFC 2449 §8.1.2) */
  | 'IN-USE';

export class Pop3Error extends Error {
  constructor(
    readonly code: RespCode | null,
    message: string,
    /** a malformed or misplaced command: counts toward the bad-command limit */
    readonly bad = false
  ) {
    super(message);
    this.name = 'Pop3Error';
  }

  get line(): string {
    return `-ERR ${this.code ? `[${this.code}] ` : ''}${this.message}\r\n`;
  }
}

/** A refusal about the request itself (no such message, already deleted). */
export const refuse = (text: string) => new Pop3Error(null, text);
/** A malformed command: wrong arguments, unknown keyword, wrong state. */
export const malformed = (text: string) => new Pop3Error(null, text, true);
