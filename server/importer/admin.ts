// What the owner does with imports, shared by the admin API and `postfach admin import`: load the remote folders with a
// proposed mapping, create a job, look at its progress, stop, resume, turn sync on or off, delete. Changes are audited
// (never with the password).
import net from 'node:net';
import type { Kysely } from 'kysely';
import type { Account, Database, ImportJob } from '../db/schema.js';
import { writeTransaction } from '../db/transaction.js';
import { requireAccount } from '../directory/accounts.js';
import { asciiDomain, displayAddress } from '../directory/address.js';
import { audit, type Actor } from '../directory/audit.js';
import { conflict, invalid, notFound } from '../directory/errors.js';
import { listMailboxes } from '../store/mailboxes.js';
import { quotaUsage } from '../store/mailbox-messages.js';
import { importKey, sealPassword } from './credentials.js';
import type { ImportServices } from './engine.js';
import { checkMapping, proposeMapping, type MappingEntry, type ProposedFolder } from './mapping.js';
import { connectRemote, defaultPort, disconnect, listRemoteFolders, type Encryption, type RemoteAccount } from './remote.js';
import { deleteJob, findJob, forgetFailures, insertJob, jobAccountAddress, jobFailures, jobFolders, listJobs, updateJob } from './store.js';

export interface RemoteLogin {
  host: string;
  port?: number;
  encryption?: Encryption;
  username: string;
  password: string;
  verifyCertificate?: boolean;
}

function remoteAccount(login: RemoteLogin): RemoteAccount {
  const host = login.host.trim().replace(/^\[(.*)\]$/, '$1');
  const checked = net.isIP(host) || host.toLowerCase() === 'localhost' ? host.toLowerCase() : asciiDomain(host);
  if (!checked) throw invalid('host', 'hostname', `"${login.host}" is not a host name or IP address`);
  if (!login.username) throw invalid('username', 'required', 'the user name at the old provider is required');
  if (!login.password) throw invalid('password', 'required', 'the password at the old provider is required');
  const encryption = login.encryption ?? 'tls';
  return { host: checked, port: login.port ?? defaultPort(encryption), encryption, username: login.username, password: login.password, verifyCertificate: login.verifyCertificate ?? true };
}

/** Connects, logs in and lists the remote folders (each connect failure names the field to fix). */
async function remoteFolders(services: ImportServices, account: RemoteAccount) {
  const imap = await connectRemote(account, { resolver: services.resolver, timeoutMs: services.config.import.connectTimeout * 1000, maxLiteralSize: 1024 * 1024 });
  try {
    return await listRemoteFolders(imap);
  } finally {
    await disconnect(imap);
  }
}

export interface FolderProposal {
  /** every remote folder with its counts and the proposed local folder (null = skip) and why */
  folders: Array<Omit<ProposedFolder, 'path' | 'specialUseSource'> & { remote: string }>;
  /** the mapping as POST …/imports takes it */
  mapping: MappingEntry[];
  localFolders: Array<{ name: string; specialUse: string | null }>;
  account: { address: string; quota: number; usedBytes: number };
  /** what the proposed folders hold, where the server tells sizes (STATUS=SIZE) */
  remoteBytes: number | null;
  remoteMessages: number;
}

export async function loadFolders(services: ImportServices, address: string, login: RemoteLogin): Promise<FolderProposal> {
  const account = await requireAccount(services.db, address);
  const remote = remoteAccount(login);
  const { folders, namespacePrefix } = await remoteFolders(services, remote);
  const local = (await listMailboxes(services.db, account.id)).map((m) => ({ name: m.name, specialUse: m.special_use }));
  const proposal = proposeMapping(folders, local, namespacePrefix);
  const chosen = proposal.filter((f) => f.local !== null);
  const usage = await quotaUsage(services.db, account.id);
  return {
    folders: proposal.map(({ path, specialUseSource: _source, ...f }) => ({ remote: path, ...f })),
    mapping: proposal.filter((f) => f.selectable).map((f) => ({ remote: f.path, local: f.local })),
    localFolders: local,
    account: { address: displayAddress(account.address), quota: usage.quota, usedBytes: usage.used_bytes },
    remoteBytes: chosen.some((f) => f.bytes === null) ? null : chosen.reduce((sum, f) => sum + (f.bytes ?? 0), 0),
    remoteMessages: chosen.reduce((sum, f) => sum + (f.messages ?? 0), 0)
  };
}

export interface NewImport extends RemoteLogin {
  /** remote folder -> local folder (null: skip); absent: the proposal */
  mapping?: MappingEntry[];
  sync?: boolean;
  /** import even past the account's quota */
  ignoreQuota?: boolean;
}

async function sealFor(services: ImportServices, accountId: number, remote: RemoteAccount): Promise<string> {
  return sealPassword(await importKey(services.config.dataDir), remote.password, {
    accountId,
    host: remote.host,
    port: remote.port,
    username: remote.username,
    encryption: remote.encryption,
    verifyCertificate: remote.verifyCertificate
  });
}

/** Checks the login and the mapping against the remote server, then stores the job (queued: a runner picks it up). */
export async function createImport(services: ImportServices, actor: Actor, address: string, request: NewImport): Promise<ImportView> {
  const account = await requireAccount(services.db, address);
  const remote = remoteAccount(request);
  const { folders, namespacePrefix } = await remoteFolders(services, remote);
  const mapping =
    request.mapping ??
    proposeMapping(folders, (await listMailboxes(services.db, account.id)).map((m) => ({ name: m.name, specialUse: m.special_use })), namespacePrefix)
      .filter((f) => f.selectable)
      .map((f) => ({ remote: f.path, local: f.local }));
  const chosen = checkMapping(mapping, folders);
  const passwordSealed = await sealFor(services, account.id, remote);
  const job = await writeTransaction(services.db, async (tx) => {
    const created = await insertJob(
      tx,
      {
        accountId: account.id,
        host: remote.host,
        port: remote.port,
        encryption: remote.encryption,
        verifyCertificate: remote.verifyCertificate,
        username: remote.username,
        passwordSealed,
        sync: request.sync ?? false,
        ignoreQuota: request.ignoreQuota ?? false,
        createdBy: actor.name,
        folders: chosen.map((c) => ({ remotePath: c.remote.path, remoteDelimiter: c.remote.delimiter, localName: c.local }))
      },
      Date.now()
    );
    await audit(tx, actor, 'import.create', account.address, {
      job: created.id,
      host: remote.host,
      port: remote.port,
      encryption: remote.encryption,
      username: remote.username,
      folders: chosen.map((c) => ({ remote: c.remote.path, local: c.local })),
      sync: created.sync === 1,
      ignoreQuota: created.ignore_quota === 1
    });
    return created;
  });
  return importView(services.db, job, account);
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export interface ImportFailureView {
  folder: string;
  uid: number;
  reason: string;
  detail: string;
  size: number;
  subject: string;
  at: string;
}

export type ImportView = Awaited<ReturnType<typeof buildView>>;

async function buildView(db: Kysely<Database>, job: ImportJob, account: Pick<Account, 'address'>, failureLimit: number) {
  const folders = await jobFolders(db, [job.id]);
  const sum = (key: 'messages' | 'imported' | 'skipped' | 'failed' | 'bytes' | 'bytes_done') => folders.reduce((total, f) => total + f[key], 0);
  const failures = failureLimit ? await jobFailures(db, job.id, failureLimit) : { rows: [], total: sum('failed') };
  return {
    id: job.id,
    account: displayAddress(account.address),
    host: job.host,
    port: job.port,
    encryption: job.encryption,
    username: job.username,
    verifyCertificate: job.verify_certificate === 1,
    state: job.state,
    sync: job.sync === 1,
    ignoreQuota: job.ignore_quota === 1,
    /** whether the remote password is still stored (deleted when the job finishes, fails at login or is deleted) */
    passwordStored: job.password_sealed !== null,
    error: job.error_field ? { field: job.error_field, message: job.error_message ?? '' } : null,
    passes: job.passes,
    attempts: job.attempts,
    createdBy: job.created_by,
    createdAt: iso(job.created_at)!,
    startedAt: iso(job.started_at),
    finishedAt: iso(job.finished_at),
    lastPassAt: iso(job.last_pass_at),
    nextRunAt: job.state === 'queued' || job.state === 'waiting' ? iso(job.next_run_at) : null,
    progress: {
      messages: sum('messages'),
      imported: sum('imported'),
      skipped: sum('skipped'),
      failed: sum('failed'),
      done: sum('imported') + sum('skipped') + sum('failed'),
      bytes: sum('bytes'),
      bytesDone: sum('bytes_done')
    },
    folders: folders.map((f) => ({
      remote: f.remote_path,
      local: f.local_name,
      state: f.state,
      messages: f.messages,
      imported: f.imported,
      skipped: f.skipped,
      failed: f.failed,
      bytes: f.bytes,
      bytesDone: f.bytes_done,
      error: f.error
    })),
    failures: failures.rows.map((r): ImportFailureView => ({ folder: r.remote_path, uid: r.uid, reason: r.reason, detail: r.detail, size: r.size, subject: r.subject, at: iso(r.at)! })),
    failuresTotal: failures.total
  };
}

/** A job as the API and CLI show it: state, error, progress in messages and bytes per folder, the newest failures. */
export async function importView(db: Kysely<Database>, job: ImportJob, account?: Pick<Account, 'address'>, failureLimit = 100): Promise<ImportView> {
  return buildView(db, job, account ?? { address: await jobAccountAddress(db, job) }, failureLimit);
}

/** Jobs of one account (or all), newest first, without failure details. */
export async function listImportViews(db: Kysely<Database>, address?: string): Promise<ImportView[]> {
  const account = address ? await requireAccount(db, address) : undefined;
  const jobs = await listJobs(db, account?.id);
  return Promise.all(jobs.map((job) => importView(db, job, account, 0)));
}

/** The job with this id; with an address it must belong to that account. */
export async function requireImport(db: Kysely<Database>, id: number, address?: string): Promise<ImportJob> {
  const job = await findJob(db, id);
  const account = address ? await requireAccount(db, address) : undefined;
  if (!job || (account && job.account_id !== account.id)) throw notFound('id', `no import ${id}${address ? ` for ${address}` : ''}`);
  return job;
}

async function auditedChange(db: Kysely<Database>, actor: Actor, job: ImportJob, action: string, detail: Record<string, unknown>, change: (tx: Kysely<Database>) => Promise<boolean>): Promise<ImportJob> {
  return writeTransaction(db, async (tx) => {
    if (!(await change(tx))) {
      const now = await findJob(tx, job.id);
      throw conflict('state', `import ${job.id} is ${now?.state ?? 'gone'}: ${action.replace('import.', '')} is not possible now`);
    }
    await audit(tx, actor, action, await jobAccountAddress(tx, job), { job: job.id, host: job.host, username: job.username, ...detail });
    return (await findJob(tx, job.id))!;
  });
}

/** Stops a queued, running or waiting job; it keeps its password and progress and can be resumed. */
export async function stopImport(db: Kysely<Database>, actor: Actor, job: ImportJob): Promise<ImportJob> {
  if (job.state === 'stopped') return job;
  return auditedChange(db, actor, job, 'import.stop', {}, (tx) => updateJob(tx, job.id, ['queued', 'running', 'waiting'], { state: 'stopped', leased_by: null, leased_until: null }));
}

export interface ResumeOptions {
  /** needed when the stored password is gone (finished job, refused login) */
  password?: string;
  /** fetch the messages that failed again */
  retryFailed?: boolean;
  ignoreQuota?: boolean;
}

/** Replaces the stored password after checking it logs in; null when none was given. */
async function newPassword(services: ImportServices, job: ImportJob, password: string | undefined): Promise<string | null> {
  if (password === undefined) return null;
  const remote = remoteAccount({ host: job.host, port: job.port, encryption: job.encryption, username: job.username, password, verifyCertificate: job.verify_certificate === 1 });
  await remoteFolders(services, remote);
  return sealFor(services, job.account_id, remote);
}

/** Queues a stopped, failed or finished job again; it continues where it was, without duplicates. */
export async function resumeImport(services: ImportServices, actor: Actor, job: ImportJob, options: ResumeOptions = {}): Promise<ImportJob> {
  if (job.state === 'running') throw conflict('state', `import ${job.id} is running`);
  const sealed = await newPassword(services, job, options.password);
  if (!sealed && !job.password_sealed) throw invalid('password', 'required', `the password for ${job.username} at ${job.host} is no longer stored: send it to resume`);
  return auditedChange(services.db, actor, job, 'import.resume', { retryFailed: options.retryFailed ?? false, newPassword: sealed !== null, ignoreQuota: options.ignoreQuota }, async (tx) => {
    if (options.retryFailed) await forgetFailures(tx, job.id);
    return updateJob(tx, job.id, ['queued', 'waiting', 'stopped', 'failed', 'done'], {
      state: 'queued',
      next_run_at: Date.now(),
      attempts: 0,
      error_field: null,
      error_message: null,
      finished_at: null,
      ...(sealed ? { password_sealed: sealed } : {}),
      ...(options.ignoreQuota === undefined ? {} : { ignore_quota: options.ignoreQuota ? 1 : 0 })
    });
  });
}

/**
 * Repeating sync on or off. Off: a job waiting for its next sync is done and its password deleted. On: a finished job
 * waits for its next sync again (it needs the password again, which was deleted when it finished).
 */
export async function setImportSync(services: ImportServices, actor: Actor, job: ImportJob, sync: boolean, password?: string): Promise<ImportJob> {
  const sealed = await newPassword(services, job, password);
  if (sync && job.state === 'done' && !sealed && !job.password_sealed) throw invalid('password', 'required', `the password for ${job.username} at ${job.host} was deleted when the import finished: send it to sync again`);
  const now = Date.now();
  return auditedChange(services.db, actor, job, 'import.sync', { sync }, async (tx) => {
    const withPassword = sealed ? { password_sealed: sealed } : {};
    if (!sync) {
      if (await updateJob(tx, job.id, ['waiting'], { sync: 0, state: 'done', password_sealed: null, finished_at: now, next_run_at: now })) return true;
      return updateJob(tx, job.id, ['queued', 'running', 'stopped', 'failed', 'done'], { sync: 0 });
    }
    if (await updateJob(tx, job.id, ['done'], { ...withPassword, sync: 1, state: 'waiting', next_run_at: now, finished_at: null })) return true;
    return updateJob(tx, job.id, ['queued', 'running', 'waiting', 'stopped', 'failed'], { ...withPassword, sync: 1 });
  });
}

/** Deletes the job with its progress and stored password; the imported mail stays. */
export async function removeImport(db: Kysely<Database>, actor: Actor, job: ImportJob): Promise<void> {
  await writeTransaction(db, async (tx) => {
    const address = await jobAccountAddress(tx, job);
    if (!(await deleteJob(tx, job.id))) throw notFound('id', `no import ${job.id}`);
    await audit(tx, actor, 'import.delete', address, { job: job.id, host: job.host, username: job.username });
  });
}
