// In-process change notifications per mailbox (new messages, flag changes, expunges) for IDLE and NOOP.
import { EventEmitter } from 'node:events';

export interface MailboxChange {
  mailboxId: number;
  accountId: number;
  kind: 'exists' | 'flags' | 'expunge' | 'mailboxes';
  uids: number[];
  modseq: number;
  /** the IMAP session that made the change (it has told its client already) */
  origin?: string;
}

export class MailboxNotifier {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  /** Called after the transaction that made the change committed. */
  publish(change: MailboxChange): void {
    this.emitter.emit(`account:${change.accountId}`, change);
  }

  subscribe(accountId: number, listener: (change: MailboxChange) => void): () => void {
    const name = `account:${accountId}`;
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }
}
