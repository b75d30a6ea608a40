// The one table of SMTP replies Postfach sends (STYLE.md §5): code, enhanced status code (RFC 3463), text.
// Reply text is US-ASCII (RFC 5321 §4.2), so RFC sections are written "section", never with the § sign.
export interface SmtpReply {
  code: number;
  enhanced: string;
  text: string;
}

const r = (code: number, enhanced: string, text: string): SmtpReply => ({ code, enhanced, text });

export const REPLIES = {
  // RCPT (RFC 5321 §4.2.2, RFC 3463)
  unknownRecipient: r(550, '5.1.1', 'Recipient address rejected: no such mailbox here'),
  mailboxDisabled: r(550, '5.2.1', 'Recipient address rejected: mailbox disabled'),
  relayDenied: r(550, '5.7.1', 'Relay access denied: this server does not accept mail for that domain'),
  mailboxFull: r(452, '4.2.2', 'Recipient mailbox is full, try again later'),
  badRecipient: r(501, '5.1.3', 'Bad recipient address syntax'),
  tooManyRecipients: r(452, '4.5.3', 'Too many recipients for one message'), // RFC 5321 §4.5.3.1.10
  // MAIL
  messageTooBigDeclared: r(552, '5.3.4', 'Message size exceeds fixed maximum message size'),
  // DATA
  messageTooBig: r(552, '5.3.4', 'Message size exceeds fixed maximum message size'),
  lineTooLong: r(550, '5.6.0', 'Message has a line longer than the limit of 998 octets (RFC 5321 section 4.5.3.1.6)'),
  bareLineEnding: r(550, '5.6.0', 'Message contains a bare CR or LF; lines must end in CRLF (RFC 5321 section 2.3.8)'),
  nulByte: r(550, '5.6.0', 'Message contains a NUL byte (RFC 5322 section 3.5)'),
  noRecipients: r(554, '5.5.1', 'No valid recipients'),
  dmarcReject: r(550, '5.7.1', 'Message rejected by the sender domain DMARC policy'),
  localError: r(451, '4.3.0', 'Local error in processing, try again later'),
  accepted: r(250, '2.0.0', 'Ok: queued as'),
  // submission (RFC 6409, RFC 4954 §6)
  senderNotOwned: r(553, '5.7.1', 'Sender address not owned by the authenticated account'),
  fromMissing: r(550, '5.6.0', 'Message has no From header (RFC 5322 section 3.6.2)'),
  headerTooLarge: r(552, '5.3.4', 'Message header section too large'),
  authInvalid: r(535, '5.7.8', 'Authentication credentials invalid'),
  authLocked: r(454, '4.7.0', 'Too many failed logins, try again later'),
  authInactive: r(535, '5.7.8', 'Authentication refused: the account is deactivated'),
  // plugins (README "Plugins"): the replies to their results when they give no text of their own
  pluginDeny: r(550, '5.7.1', 'Refused by local policy'),
  pluginDenySoft: r(451, '4.7.1', 'Temporarily refused by local policy, try again later'),
  pluginDisconnect: r(421, '4.7.0', 'Refused by local policy, closing connection'), // RFC 5321 §3.8: the reply a server may close after
  pluginDenyGreeting: r(554, '5.7.1', 'Connection refused by local policy'), // RFC 5321 §3.1: 554 instead of the 220 greeting
  pluginDenySoftGreeting: r(421, '4.7.1', 'Connection refused by local policy for now, try again later'),
  localErrorGreeting: r(421, '4.3.0', 'Local error in processing, try again later'),
  acceptedByPlugin: r(250, '2.0.0', 'Ok: taken as'),
  // connection
  tooManyConnections: r(421, '4.7.0', 'Too many connections from your address, try again later'),
  shuttingDown: r(421, '4.3.2', 'Service shutting down, try again later')
} as const;

export type ReplyName = keyof typeof REPLIES;

const REPLY_NAMES = new Map<SmtpReply, ReplyName>(Object.entries(REPLIES).map(([name, reply]) => [reply, name as ReplyName]));

/** An error smtp-server turns into the reply: `<code> <enhanced> <text>`. */
export class SmtpError extends Error {
  readonly responseCode: number;
  /** the reply's name in the table (metrics count refusals by it); 'other' for a reply not from the table */
  readonly reason: ReplyName | 'other';
  constructor(
    readonly reply: SmtpReply,
    detail?: string,
    reason?: ReplyName
  ) {
    super(`${reply.enhanced} ${detail ? `${reply.text}: ${detail}` : reply.text}`);
    this.name = 'SmtpError';
    this.responseCode = reply.code;
    this.reason = reason ?? REPLY_NAMES.get(reply) ?? 'other';
  }
}

export const smtpError = (name: ReplyName, detail?: string) => new SmtpError(REPLIES[name], detail);
