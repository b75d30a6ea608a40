// In-process change notifications per mailbox (new messages, flag changes, expunges) for IDLE and NOOP.
import { EventEmitter } from 'node:events';

export interface MailboxChange {
  mailboxId: number;
  accountId: number;
  /** 'account': the account was deleted, deactivated or merged away; its sessions end */
  kind: 'exists' | 'flags' | 'expunge' | 'mailboxes' | 'account';
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

  /** Ends every session of an account (deleted, deactivated, merged into another); called after the commit. */
  closeAccount(accountId: number): void {
    this.publish({ accountId, mailboxId: 0, kind: 'account', uids: [], modseq: 0 });
  }

  subscribe(accountId: number, listener: (change: MailboxChange) => void): () => void {
    const name = `account:${accountId}`;
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }
}
