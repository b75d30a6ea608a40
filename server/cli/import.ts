// `postfach admin import …`: load the old provider's folders, start, follow, stop, resume, sync and remove imports on the
// data folder. A running server picks queued jobs up within 10 s; --foreground imports in this process instead.
import fs from 'node:fs/promises';
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/schema.js';
import { WriteQueue } from '../db/transaction.js';
import type { Actor } from '../directory/audit.js';
import { createResolver } from '../dns/resolver.js';
import { createImport, importView, listImportViews, loadFolders, removeImport, requireImport, resumeImport, setImportSync, stopImport, type ImportView, type RemoteLogin } from '../importer/admin.js';
import type { ImportServices } from '../importer/engine.js';
import type { MappingEntry } from '../importer/mapping.js';
import type { Encryption } from '../importer/remote.js';
import { ImportRunner } from '../importer/runner.js';
import { findJob } from '../importer/store.js';
import { createLogger } from '../log/logger.js';
import { BlobStore } from '../store/blobs.js';
import { MailboxNotifier } from '../store/notifier.js';

/** What main.ts hands over: the parsed command line and its helpers. */
export interface ImportCliContext {
  config: Config;
  db: Kysely<Database>;
  actor: Actor;
  /** after `import`: verb and its arguments */
  positional: string[];
  flags: Map<string, string | true>;
  readPassword(): Promise<string>;
  print(rows: Array<Record<string, unknown>>, columns: string[]): void;
  usage(message: string): Error;
  out(line: string): void;
}

function importServices(config: Config, db: Kysely<Database>): ImportServices {
  return {
    config,
    db,
    // progress goes to standard output; the log (standard error) only says what went wrong, unless asked for more
    log: createLogger(['debug', 'trace'].includes(config.log.level) ? config.log.level : 'warn'),
    writes: new WriteQueue(db),
    blobs: new BlobStore(config.dataDir),
    notifier: new MailboxNotifier(),
    resolver: createResolver({ servers: config.dns.servers, timeout: config.dns.timeout }),
    // an import stores mail and never sends any
    queue: { kick: () => undefined }
  };
}

const ENCRYPTIONS = ['tls', 'starttls', 'none'];
const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

function remoteLogin(ctx: ImportCliContext, password: string): RemoteLogin {
  const text = (name: string) => {
    const value = ctx.flags.get(name);
    if (value === undefined || value === true) throw ctx.usage(`${name} is required`);
    return value;
  };
  const encryption = (ctx.flags.get('--encryption') ?? 'tls') as string;
  if (!ENCRYPTIONS.includes(encryption)) throw ctx.usage('--encryption is tls, starttls or none');
  const port = ctx.flags.get('--port');
  if (port !== undefined && (port === true || !/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) throw ctx.usage('--port takes a port number');
  return {
    host: text('--host'),
    username: text('--user'),
    password,
    encryption: encryption as Encryption,
    ...(port === undefined ? {} : { port: Number(port) }),
    verifyCertificate: !ctx.flags.has('--no-verify-certificate')
  };
}

/** --mapping FILE: the JSON `import folders --json` prints (its "mapping"), or a plain [{remote, local}] list. */
async function mappingFile(ctx: ImportCliContext): Promise<MappingEntry[] | undefined> {
  const file = ctx.flags.get('--mapping');
  if (file === undefined) return undefined;
  if (file === true) throw ctx.usage('--mapping takes a file name');
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw ctx.usage(`--mapping: ${file}: ${(err as Error).message}`);
  }
  // `import folders --json` prints [{ folders, mapping, … }]
  const unwrapped = Array.isArray(parsed) && parsed.length === 1 && Array.isArray(parsed[0]?.mapping) ? parsed[0] : parsed;
  const list = Array.isArray(unwrapped) ? unwrapped : (unwrapped as { mapping?: unknown })?.mapping;
  if (!Array.isArray(list) || !list.every((e) => typeof e?.remote === 'string' && (typeof e.local === 'string' || e.local === null))) {
    throw ctx.usage(`--mapping: ${file} must hold [{"remote": "…", "local": "…" or null}, …]`);
  }
  return list.map((e) => ({ remote: e.remote, local: e.local }));
}

function jobId(ctx: ImportCliContext, index: number): number {
  const value = ctx.positional[index];
  if (!value || !/^\d+$/.test(value)) throw ctx.usage('import commands take the numeric id from import list');
  return Number(value);
}

function summary(view: ImportView): Record<string, unknown> {
  const p = view.progress;
  return {
    ...view,
    progressText: `${p.done}/${p.messages} messages, ${mb(p.bytesDone)}/${mb(p.bytes)} MB`,
    errorText: view.error ? `${view.error.field}: ${view.error.message}` : ''
  };
}

function printStatus(ctx: ImportCliContext, view: ImportView): void {
  if (ctx.flags.has('--json')) return ctx.print([view as unknown as Record<string, unknown>], []);
  const s = summary(view);
  ctx.out(`import ${view.id} of ${view.account} from ${view.username} at ${view.host}:${view.port} (${view.encryption}): ${view.state}${view.sync ? ', sync on' : ''}`);
  ctx.out(`  ${s.progressText}; imported ${view.progress.imported}, skipped ${view.progress.skipped}, failed ${view.progress.failed}`);
  if (view.error) ctx.out(`  last error (${view.error.field}): ${view.error.message}`);
  if (view.nextRunAt) ctx.out(`  next run ${view.nextRunAt}`);
  for (const f of view.folders) ctx.out(`  ${f.remote} -> ${f.local}: ${f.state}, ${f.imported + f.skipped + f.failed}/${f.messages} messages, ${mb(f.bytesDone)}/${mb(f.bytes)} MB${f.error ? ` (${f.error})` : ''}`);
  for (const f of view.failures) ctx.out(`  failed: ${f.folder} UID ${f.uid} "${f.subject}" (${f.size} bytes): ${f.reason}: ${f.detail}`);
  if (view.failuresTotal > view.failures.length) ctx.out(`  … ${view.failuresTotal - view.failures.length} more failures`);
}

/**
 * Imports one job in this process, printing progress, until it is done, failed or stopped (Ctrl-C stops it; resume
 * continues). A job a running server holds is left to it. Exit code 0 unless the job failed.
 */
async function foreground(ctx: ImportCliContext, services: ImportServices, id: number): Promise<number> {
  await fs.mkdir(services.blobs.tmp, { recursive: true });
  const holder = `cli:${process.pid}`;
  const runner = new ImportRunner(services, { holder, onlyJob: id, stopState: 'stopped', scanIntervalMs: 1000 });
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  await runner.start();
  let last = '';
  try {
    for (let tick = 0; ; tick++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const job = await findJob(ctx.db, id);
      if (!job) throw ctx.usage(`import ${id} was removed`);
      if (job.state === 'running' && job.leased_by !== holder) {
        ctx.out(`import ${id} is being imported by ${job.leased_by?.startsWith('server:') ? 'the running server' : job.leased_by}; follow it with: postfach admin import status ${id}`);
        return 0;
      }
      const view = await importView(ctx.db, job, undefined, 0);
      const line = `import ${id}: ${view.state}, ${summary(view).progressText}${view.state === 'waiting' ? `, next sync ${view.nextRunAt}` : ''}${view.error ? ` (${view.error.field}: ${view.error.message})` : ''}`;
      if (line !== last) ctx.out(line);
      last = line;
      if (['done', 'failed', 'stopped'].includes(job.state) && !runner.isRunning(id)) break;
      if (interrupted) {
        ctx.out('stopping between two messages (resume continues where it stopped)…');
        await runner.stop();
        break;
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await runner.stop();
  }
  const final = await importView(ctx.db, (await findJob(ctx.db, id))!);
  printStatus(ctx, final);
  return final.state === 'failed' ? 1 : 0;
}

export async function importCommand(ctx: ImportCliContext): Promise<number> {
  const [verb] = ctx.positional;
  const services = importServices(ctx.config, ctx.db);
  const address = (what: string) => {
    const value = ctx.positional[1];
    if (!value) throw ctx.usage(`missing ${what}`);
    return value;
  };
  const passwordIfGiven = async () => (ctx.flags.has('--password-stdin') ? ctx.readPassword() : undefined);
  switch (verb) {
    case 'folders': {
      const proposal = await loadFolders(services, address('account address'), remoteLogin(ctx, await ctx.readPassword()));
      if (ctx.flags.has('--json')) ctx.print([proposal as unknown as Record<string, unknown>], []);
      else
        ctx.print(
          proposal.folders.map((f) => ({ ...f, size: f.bytes === null ? '?' : `${mb(f.bytes)} MB`, count: f.messages ?? '?', target: f.local ?? '(skip)' })),
          ['remote', 'count', 'size', 'target', 'reason']
        );
      return 0;
    }
    case 'start': {
      const account = address('account address');
      const mapping = await mappingFile(ctx);
      const login = remoteLogin(ctx, await ctx.readPassword());
      const view = await createImport(services, ctx.actor, account, { ...login, mapping, sync: ctx.flags.has('--sync'), ignoreQuota: ctx.flags.has('--ignore-quota') });
      if (ctx.flags.has('--foreground')) return foreground(ctx, services, view.id);
      if (ctx.flags.has('--json')) ctx.print([view as unknown as Record<string, unknown>], []);
      else ctx.out(`import ${view.id} queued: a running server starts it within 10 s (or run: postfach admin import resume ${view.id} --foreground)`);
      return 0;
    }
    case 'list': {
      const views = await listImportViews(ctx.db, ctx.positional[1]);
      ctx.print(ctx.flags.has('--json') ? (views as unknown as Array<Record<string, unknown>>) : views.map(summary), ['id', 'account', 'host', 'username', 'state', 'progressText', 'errorText']);
      return 0;
    }
    case 'status':
      printStatus(ctx, await importView(ctx.db, await requireImport(ctx.db, jobId(ctx, 1))));
      return 0;
    case 'stop': {
      const job = await stopImport(ctx.db, ctx.actor, await requireImport(ctx.db, jobId(ctx, 1)));
      ctx.out(`import ${job.id} stopped (a running server ends it within 5 s; resume continues where it stopped)`);
      return 0;
    }
    case 'resume': {
      const job = await resumeImport(services, ctx.actor, await requireImport(ctx.db, jobId(ctx, 1)), {
        password: await passwordIfGiven(),
        retryFailed: ctx.flags.has('--retry-failed'),
        ...(ctx.flags.has('--ignore-quota') ? { ignoreQuota: true } : {})
      });
      if (ctx.flags.has('--foreground')) return foreground(ctx, services, job.id);
      ctx.out(`import ${job.id} queued again: a running server continues it within 10 s`);
      return 0;
    }
    case 'sync': {
      const setting = ctx.positional[2];
      if (setting !== 'on' && setting !== 'off') throw ctx.usage('import sync takes <id> on|off');
      const job = await setImportSync(services, ctx.actor, await requireImport(ctx.db, jobId(ctx, 1)), setting === 'on', await passwordIfGiven());
      ctx.out(`import ${job.id}: sync ${setting} (${job.state}${job.password_sealed ? '' : ', remote password deleted'})`);
      return 0;
    }
    case 'remove': {
      const job = await requireImport(ctx.db, jobId(ctx, 1));
      if (job.state === 'running') throw ctx.usage(`import ${job.id} is running: stop it first`);
      await removeImport(ctx.db, ctx.actor, job);
      ctx.out(`import ${job.id} removed (the imported mail stays)`);
      return 0;
    }
    default:
      throw ctx.usage(`unknown import command "${ctx.positional.join(' ')}"`);
  }
}
