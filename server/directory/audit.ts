// The audit log: who changed what, when and from where. Written in the same transaction as the change.
import type { Tx } from '../db/transaction.js';

export interface Actor {
  /** admin login, "cli:<user>" for the command line, or "setup" */
  name: string;
  ip?: string | null;
}

export async function audit(tx: Tx, actor: Actor, action: string, target: string, detail: Record<string, unknown> = {}): Promise<void> {
  await tx
    .insertInto('audit_log')
    .values({ at: Date.now(), actor: actor.name, action, target, detail: JSON.stringify(detail), ip: actor.ip ?? null })
    .execute();
}
