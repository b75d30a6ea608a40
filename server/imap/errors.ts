// Typed IMAP command failures (STYLE.md §4): thrown in handlers, turned into the tagged response once at dispatch.
export type ImapStatus = 'NO' | 'BAD' | 'BYE';

export class ImapError extends Error {
  constructor(
    readonly status: ImapStatus,
    /** response code without brackets, e.g. "NONEXISTENT" or "BADCHARSET (UTF-8)" */
    readonly code: string | null,
    text: string
  ) {
    super(text);
    this.name = 'ImapError';
  }
}

export const no = (code: string | null, text: string) => new ImapError('NO', code, text);
export const bad = (text: string, code: string | null = null) => new ImapError('BAD', code, text);
