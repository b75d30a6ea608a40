// The audit log: who changed what, when and from where. Written in the same transaction as the change.
import type { AuditEntry } from '../db/schema.js';
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

export interface AuditQuery {
  limit: number;
  /** entries with a smaller id: the next page */
  before?: number;
  target?: string;
  actor?: string;
}

/** The audit log, newest first. */
export function listAudit(tx: Tx, query: AuditQuery): Promise<AuditEntry[]> {
  let q = tx.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(query.limit);
  if (query.before) q = q.where('id', '<', query.before);
  if (query.target) q = q.where('target', '=', query.target.toLowerCase());
  if (query.actor) q = q.where('actor', '=', query.actor);
  return q.execute();
}
