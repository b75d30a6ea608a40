// One pass of an import job: log in to the old server, visit each mapped folder read-only (EXAMINE), list the UIDs not
// handled yet under the folder's UIDVALIDITY and fetch them in bounded batches into the local folder.
import type { FetchMessageObject, ImapFlow } from 'imapflow';
import type { ImportFolder, ImportJob, Mailbox } from '../db/schema.js';
import { writeTransaction } from '../db/transaction.js';
import type { Logger } from '../log/logger.js';
import type { Services } from '../services.js';
import type { CommitServices } from '../smtp/commit.js';
import { createMailbox, findMailbox, MailboxError } from '../store/mailboxes.js';
import { messageFingerprints } from '../store/mailbox-messages.js';
import { CommitPipeline, LocalFault, QuotaExceeded, subjectOf } from './pipeline.js';
import { connectRemote, disconnect, isConnectionError, RemoteAccountError, type RemoteAccount } from './remote.js';
import { beginFolder, failFolder, finishFolder, handledUids, jobFolders, setFolderPending } from './store.js';

export type ImportServices = CommitServices & Pick<Services, 'log' | 'resolver'>;

/** How a pass ended. `retry`: a connection problem the next pass may not have; otherwise the owner must act. */
export type PassResult = { kind: 'complete'; imported: number } | { kind: 'aborted' } | { kind: 'error'; retry: boolean; field: string; message: string; progressed: boolean };

export interface PassOptions {
  /** ends the pass between two messages (and closes the connection at once) */
  signal: AbortSignal;
  log: Logger;
  /** messages per FETCH command; bytes per FETCH command (one message at least) */
  batchMessages?: number;
  batchBytes?: number;
}

interface Candidate {
  uid: number;
  size: number;
}

/** Flags worth keeping: system flags a client can set and keywords (RFC 9051 §2.3.2); \Recent is per session. */
const SYSTEM_FLAGS = new Set(['\\seen', '\\answered', '\\flagged', '\\deleted', '\\draft']);
const KEYWORD = /^[^\s()\]{%*"\\\x00-\x1f\x7f]+$/;
export function importedFlags(flags: Iterable<string>): string[] {
  return [...flags].filter((f) => (f.startsWith('\\') ? SYSTEM_FLAGS.has(f.toLowerCase()) : KEYWORD.test(f) && f.length <= 100));
}

const describe = (err: unknown) => (err as { responseText?: string })?.responseText || (err as Error)?.message || String(err);

export async function runPass(services: ImportServices, job: ImportJob, password: string, options: PassOptions): Promise<PassResult> {
  const { signal, log } = options;
  const account: RemoteAccount = { host: job.host, port: job.port, encryption: job.encryption, username: job.username, password, verifyCertificate: job.verify_certificate === 1 };
  const appendLimit = services.config.imap.appendLimit;
  let imap: ImapFlow;
  try {
    imap = await connectRemote(account, { resolver: services.resolver, timeoutMs: services.config.import.connectTimeout * 1000, maxLiteralSize: appendLimit + 1024 * 1024, signal });
  } catch (err) {
    if (signal.aborted) return { kind: 'aborted' };
    const e = err instanceof RemoteAccountError ? err : new RemoteAccountError('host', 'imap', describe(err));
    return { kind: 'error', retry: e.field !== 'password' && e.field !== 'username', field: e.field, message: e.message, progressed: false };
  }
  const close = () => imap.close();
  signal.addEventListener('abort', close);
  let imported = 0;
  try {
    for (const folder of await jobFolders(services.db, [job.id])) {
      if (signal.aborted) return { kind: 'aborted' };
      imported += await importFolder({ services, job, imap, signal, log, appendLimit, batchMessages: options.batchMessages ?? 100, batchBytes: options.batchBytes ?? 16 * 1024 * 1024 }, folder);
    }
    return signal.aborted ? { kind: 'aborted' } : { kind: 'complete', imported };
  } catch (err) {
    if (signal.aborted) return { kind: 'aborted' };
    const progressed = imported > 0 || (err as { progressed?: boolean }).progressed === true;
    if (err instanceof QuotaExceeded) return { kind: 'error', retry: false, field: 'quota', message: err.message, progressed };
    // the database was busy or the disk full: worth another pass later, and a failure after MAX_ATTEMPTS
    if (err instanceof LocalFault) return { kind: 'error', retry: true, field: 'store', message: err.message, progressed };
    if (isConnectionError(err) || !imap.usable) return { kind: 'error', retry: true, field: 'host', message: `the connection to ${job.host} broke: ${describe(err)}`, progressed };
    throw err;
  } finally {
    signal.removeEventListener('abort', close);
    await disconnect(imap);
  }
}

interface FolderContext {
  services: ImportServices;
  job: ImportJob;
  imap: ImapFlow;
  signal: AbortSignal;
  log: Logger;
  appendLimit: number;
  batchMessages: number;
  batchBytes: number;
}

/** The local folder, created (with missing superiors) when it does not exist yet; IMAP sessions hear of it. */
async function localFolder(services: ImportServices, accountId: number, name: string): Promise<Mailbox> {
  const existing = await findMailbox(services.db, accountId, name);
  if (existing) return existing;
  try {
    const created = await writeTransaction(services.db, (tx) => createMailbox(tx, accountId, name));
    services.notifier.publish({ accountId, mailboxId: 0, kind: 'mailboxes', uids: [], modseq: 0 });
    return created;
  } catch (err) {
    const raced = err instanceof MailboxError && err.code === 'ALREADYEXISTS' ? await findMailbox(services.db, accountId, name) : undefined;
    if (raced) return raced;
    throw err;
  }
}

/** Remote UIDs from `from` on with their sizes, ascending ("n:*" names the last message even below n: filtered). */
async function listCandidates(imap: ImapFlow, from: number): Promise<Candidate[]> {
  const found: Candidate[] = [];
  for await (const m of imap.fetch(`${from}:*`, { uid: true, size: true }, { uid: true })) if (m.uid >= from) found.push({ uid: m.uid, size: m.size ?? 0 });
  return found.sort((a, b) => a.uid - b.uid);
}

function* batches(candidates: Candidate[], maxMessages: number, maxBytes: number): Generator<Candidate[]> {
  let batch: Candidate[] = [];
  let bytes = 0;
  for (const c of candidates) {
    if (batch.length && (batch.length >= maxMessages || bytes + c.size > maxBytes)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(c);
    bytes += c.size;
  }
  if (batch.length) yield batch;
}

/** Imports what is new in one folder; returns how many messages were stored. */
async function importFolder(ctx: FolderContext, folder: ImportFolder): Promise<number> {
  const { services, job, imap, log } = ctx;
  const { db } = services;
  let opened;
  try {
    // EXAMINE: read-only, so fetching does not set \Seen on the old server (RFC 9051 §6.3.3)
    opened = await imap.mailboxOpen(folder.remote_path, { readOnly: true });
  } catch (err) {
    if (isConnectionError(err) || !imap.usable) throw err;
    log.info({ folder: folder.remote_path, reason: describe(err) }, 'remote folder cannot be opened');
    await failFolder(db, folder.id, `the remote folder cannot be opened: ${describe(err)}`);
    return 0;
  }
  let local: Mailbox;
  try {
    local = await localFolder(services, job.account_id, folder.local_name);
  } catch (err) {
    if (!(err instanceof MailboxError)) throw err;
    await failFolder(db, folder.id, `the local folder ${folder.local_name} cannot be created: ${err.message}`);
    return 0;
  }
  const current = await beginFolder(db, folder, Number(opened.uidValidity));
  const uidNextAtOpen = Number(opened.uidNext) || 0; // a server may leave UIDNEXT out of its SELECT answer
  // nothing arrived since the last complete pass (UIDNEXT did not move): no listing needed (RFC 9051 §2.3.1.1); without
  // a UIDNEXT to compare, list every pass
  const unchanged = uidNextAtOpen > 0 && current.synced_uidnext > 1 && uidNextAtOpen <= current.synced_uidnext;
  const candidates = opened.exists && !unchanged ? await listCandidates(imap, current.synced_uidnext) : [];
  const handled = await handledUids(db, folder.id, current.synced_uidnext);
  const pending = candidates.filter((c) => !handled.has(c.uid));
  await setFolderPending(db, folder.id, pending.length, pending.reduce((sum, c) => sum + c.size, 0));
  if (pending.length) log.info({ folder: folder.remote_path, local: local.name, pending: pending.length, uidvalidity: Number(opened.uidValidity), restart: current.dedup === 1 }, 'importing folder');

  const pipeline = new CommitPipeline(
    services,
    { accountId: job.account_id, mailboxId: local.id, folderId: folder.id, ignoreQuota: job.ignore_quota === 1, fingerprints: current.dedup && pending.length ? await messageFingerprints(db, local.id) : null },
    { messages: 16, bytes: 64 * 1024 * 1024 }
  );
  let stored = 0;
  try {
    for (const batch of batches(pending, ctx.batchMessages, ctx.batchBytes)) {
      stored += await importBatch(ctx, batch, pipeline);
      if (pipeline.halted || ctx.signal.aborted) break;
    }
  } catch (err) {
    await pipeline.drain();
    throw Object.assign(err as object, { progressed: stored > 0 });
  }
  await pipeline.drain();
  if (pipeline.halted) throw pipeline.halted;
  if (ctx.signal.aborted) return stored;
  const highest = candidates.length ? candidates[candidates.length - 1].uid : 0;
  await finishFolder(db, folder.id, Math.max(uidNextAtOpen, highest + 1, current.synced_uidnext));
  return stored;
}

/** Fetches one batch; messages the server refuses are fetched one by one, so one bad message fails alone. */
async function importBatch(ctx: FolderContext, batch: Candidate[], pipeline: CommitPipeline): Promise<number> {
  const { imap } = ctx;
  const wanted = new Map<number, Candidate>();
  let taken = 0;
  for (const c of batch) {
    if (c.size > ctx.appendLimit) await pipeline.fail({ uid: c.uid, reason: 'too_large', detail: `${c.size} bytes is more than imap.appendLimit (${ctx.appendLimit})`, size: c.size, subject: await remoteSubject(imap, c.uid) });
    else wanted.set(c.uid, c);
  }
  if (!wanted.size) return 0;
  const take = async (c: Candidate, message: FetchMessageObject) => {
    wanted.delete(c.uid);
    const source = message.source;
    if (!source?.length) return pipeline.fail({ uid: c.uid, reason: source ? 'empty' : 'fetch', detail: source ? 'the message has no content (0 bytes)' : 'the server sent no content', size: c.size, subject: '' });
    if (source.length > ctx.appendLimit) return pipeline.fail({ uid: c.uid, reason: 'too_large', detail: `${source.length} bytes is more than imap.appendLimit (${ctx.appendLimit})`, size: c.size, subject: subjectOf(source) });
    const date = message.internalDate instanceof Date ? message.internalDate.getTime() : Date.parse(String(message.internalDate ?? ''));
    await pipeline.add({ uid: c.uid, size: c.size, source, flags: importedFlags(message.flags ?? []), internalDate: Number.isNaN(date) ? Date.now() : date });
    taken++;
  };
  const query = { uid: true, flags: true, internalDate: true, source: true };
  try {
    for await (const message of imap.fetch([...wanted.keys()].join(','), query, { uid: true })) {
      const c = wanted.get(message.uid);
      if (c) await take(c, message);
      if (pipeline.halted || ctx.signal.aborted) return taken;
    }
  } catch (err) {
    if (isConnectionError(err) || !imap.usable) throw err;
    // the server refused the batch (NO): ask for each remaining message alone
    for (const c of [...wanted.values()]) {
      try {
        const message = await imap.fetchOne(String(c.uid), query, { uid: true });
        if (message) await take(c, message);
      } catch (single) {
        if (isConnectionError(single) || !imap.usable) throw single;
        wanted.delete(c.uid);
        await pipeline.fail({ uid: c.uid, reason: 'fetch', detail: `the server refused to send it: ${describe(single)}`, size: c.size, subject: await remoteSubject(imap, c.uid) });
      }
      if (pipeline.halted || ctx.signal.aborted) return taken;
    }
  }
  // not in the answer: expunged on the old server since the listing
  for (const c of wanted.values()) await pipeline.skip(c.uid, c.size);
  return taken;
}

/** The subject from the remote ENVELOPE, for reporting a message that was not fetched. */
async function remoteSubject(imap: ImapFlow, uid: number): Promise<string> {
  try {
    const message = await imap.fetchOne(String(uid), { uid: true, envelope: true }, { uid: true });
    return (message && message.envelope?.subject) || '';
  } catch (err) {
    if (isConnectionError(err) || !imap.usable) throw err;
    return '';
  }
}
