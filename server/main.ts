#!/usr/bin/env node
// The `postfach` command: `serve`, `admin …` (domains, accounts, aliases, forwards, catch-all) and `config …`.
import os from 'node:os';
import readline from 'node:readline';
import { ConfigError, configReference, exampleConfig, loadConfig } from './config/load.js';
import { openDatabase } from './db/connect.js';
import { checkDomainName, displayAddress, unicodeDomain } from './directory/address.js';
import { addAccount, deleteAccount, listAccounts, setActive, setPassword, updateAccount } from './directory/accounts.js';
import { createApiToken, listApiTokens, revokeApiToken } from './directory/api-tokens.js';
import { deleteQueued, listQueueViews, retryQueued } from './queue/admin.js';
import { mergeAccounts } from './directory/merge.js';
import { checkDomain, needsAttention } from './dns/check.js';
import { configuredListeners, expectedRecords, recordData } from './dns/records.js';
import { createResolver } from './dns/resolver.js';
import type { Actor } from './directory/audit.js';
import { addDomain, clearCatchAll, listDomains, removeDomain, requireDomain, setCatchAll } from './directory/domains.js';
import { createFirstOwner } from './directory/admins.js';
import { DirectoryError } from './directory/errors.js';
import { addAlias, addForward, listAliases, listForwards, removeAlias, removeForward } from './directory/routing.js';
import { BlobStore } from './store/blobs.js';
import { IMPORT_SWITCHES, IMPORT_USAGE, IMPORT_VALUE_FLAGS } from './cli/import-options.js';

class UsageError extends Error {}

const USAGE = `Usage: postfach <command>

  serve                                   start every configured server
  admin domain add|list|remove <domain>
  admin domain records <domain>           the DNS records to set (MX, SPF, DKIM, DMARC, ownership; optional client SRV/CNAME)
  admin domain check <domain>             live DNS check of those records: ok / missing / wrong
  admin account add <address> [--name "Display Name"] [--quota BYTES] [--inactive] [--password-stdin]
  admin account list [--domain DOMAIN]
  admin account remove <address> [--yes]
  admin account passwd <address> [--password-stdin]
  admin account activate|deactivate <address>
  admin account update <address> [--name "Display Name"] [--quota BYTES]
  admin account merge <source> <target> [--yes]   move all folders and mail of source into target, delete source
  admin alias add <alias> <account> | list [account] | remove <alias>
  admin forward add <source> <destination>... [--keep-copy|--no-keep-copy] | list [source] | remove <source> [destination]
  admin catchall set <domain> <address> | clear <domain>
  admin owner create <address> [--password-stdin]   the first owner admin user (once; more are added by an owner)
  admin token create <name> [--role owner|admin] | list | revoke <id>   API tokens for scripts (shown once)
  admin queue list                        outbound mail waiting for delivery, with attempts and last error
  admin queue retry <id>|--all            try now instead of at the next attempt (a running server sees it within 30 s)
  admin queue delete <id>                 drop an entry without delivering it and without a bounce
${IMPORT_USAGE}
  config example | reference             print the example config file or the settings reference
  backup <file.tar.gz|folder|->          consistent snapshot (database + message files) while the server runs
  restore <file|-> [--force]              restore a backup into an empty data folder (--force: over a stopped server's)
  healthcheck                             ask the running server's /healthz (exit 0 healthy, 1 not)

Admin commands take --json for machine-readable output. Passwords are read from standard input
(--password-stdin, first line) or asked for twice on a terminal; never pass them as arguments.
Configuration: POSTFACH_CONFIG names a JSON file; every setting also has a POSTFACH_* variable
(see config/README.md).`;

interface Parsed {
  positional: string[];
  flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set(['--name', '--quota', '--domain', '--role']);
const SWITCHES = new Set(['--password-stdin', '--inactive', '--yes', '--json', '--keep-copy', '--no-keep-copy', '--help', '--all', '--force']);
for (const flag of IMPORT_VALUE_FLAGS) VALUE_FLAGS.add(flag);
for (const flag of IMPORT_SWITCHES) SWITCHES.add(flag);

function parseArgs(argv: string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq > 0 ? arg.slice(0, eq) : arg;
      if (name === '--password') throw new UsageError('passwords are never taken as arguments: use --password-stdin');
      // a mistyped option must not silently do something else (--inactve would create an active account)
      if (!VALUE_FLAGS.has(name) && !SWITCHES.has(name)) throw new UsageError(`unknown option ${name}`);
      if (eq > 0) flags.set(name, arg.slice(eq + 1));
      else if (VALUE_FLAGS.has(arg)) {
        if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value`);
        flags.set(arg, argv[++i]);
      } else flags.set(arg, true);
    } else positional.push(arg);
  }
  if (flags.has('--password')) throw new UsageError('passwords are never taken as arguments: use --password-stdin');
  return { positional, flags };
}

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if ((chunk as Buffer).includes(0x0a)) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const nl = text.indexOf('\n');
  return (nl >= 0 ? text.slice(0, nl) : text).replace(/\r$/, '');
}

async function promptHidden(question: string): Promise<string> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const output = rl as unknown as { _writeToOutput(s: string): void };
  let prompting = true;
  output._writeToOutput = (s: string) => {
    if (prompting) process.stderr.write(s.includes(question) ? question : '');
  };
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    prompting = false;
    process.stderr.write('\n');
    rl.close();
  }
}

async function readPassword(parsed: Parsed): Promise<string> {
  if (parsed.flags.has('--password-stdin') || !process.stdin.isTTY) {
    const line = await readStdinLine();
    if (!line) throw new UsageError('no password on standard input');
    return line;
  }
  const first = await promptHidden('Password: ');
  const second = await promptHidden('Repeat password: ');
  if (first !== second) throw new UsageError('the two passwords differ');
  return first;
}

async function confirm(question: string, expected: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
    return answer.trim().toLowerCase() === expected.toLowerCase();
  } finally {
    rl.close();
  }
}

function print(parsed: Parsed, rows: Array<Record<string, unknown>>, columns: string[]): void {
  if (parsed.flags.has('--json')) {
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    return;
  }
  for (const row of rows) process.stdout.write(columns.map((c) => String(row[c] ?? '')).join('\t') + '\n');
}

function quotaFlag(parsed: Parsed): number | undefined {
  const quota = parsed.flags.get('--quota');
  if (quota === undefined) return undefined;
  if (quota === true || !/^\d+$/.test(quota)) throw new UsageError('--quota takes a number of bytes');
  return Number(quota);
}

function need(parsed: Parsed, index: number, what: string): string {
  const value = parsed.positional[index];
  if (!value) throw new UsageError(`missing ${what}`);
  return value;
}

function queueId(text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError('queue commands take the numeric id from queue list');
  return Number(text);
}

/** Runs one admin command; the exit code is 0, or 3 when a DNS check found records not yet right. */
async function admin(parsed: Parsed): Promise<number> {
  const config = loadConfig();
  const { db, close } = await openDatabase(config.dataDir);
  const actor: Actor = { name: `cli:${os.userInfo().username}` };
  const accounts = { db, policy: { minLength: config.accounts.passwordMinLength }, defaultQuota: config.accounts.defaultQuota };
  const [area, verb] = parsed.positional;
  const arg = (i: number, what: string) => need(parsed, i + 2, what);
  const done = (msg: string) => process.stdout.write(msg + '\n');
  let exitCode = 0;
  try {
    switch (`${area} ${verb}`) {
      case 'domain add': {
        const d = await addDomain(db, actor, arg(0, 'domain'));
        if (parsed.flags.has('--json')) print(parsed, [{ name: d.name, display: unicodeDomain(d.name), dkimSelector: d.dkim_selector }], []);
        else done(`domain ${unicodeDomain(d.name)} added (DKIM selector ${d.dkim_selector})`);
        break;
      }
      case 'domain list':
        print(parsed, (await listDomains(db)).map((d) => ({ name: d.name, display: unicodeDomain(d.name), active: d.active === 1, catchall: d.catchall_target ? displayAddress(d.catchall_target) : '' })), ['display', 'catchall']);
        break;
      case 'domain records': {
        const records = expectedRecords(await requireDomain(db, arg(0, 'domain')), config.hostname, configuredListeners(config));
        print(parsed, records.map((r) => ({ ...r, shown: recordData(r) + (r.required ? '' : '   (optional)') })), ['kind', 'type', 'name', 'shown']);
        break;
      }
      case 'domain check': {
        const resolver = createResolver({ servers: config.dns.servers, timeout: config.dns.timeout });
        const check = await checkDomain(resolver, await requireDomain(db, arg(0, 'domain')), config.hostname, undefined, configuredListeners(config));
        print(parsed, check.records.map((r) => ({ ...r, foundText: r.found.join(' | ') || '-', state: r.required || r.status === 'ok' ? r.status : `${r.status} (optional)` })), ['kind', 'state', 'message']);
        // optional records (client autoconfiguration) never make the exit code 3
        if (needsAttention(check)) exitCode = 3;
        break;
      }
      case 'domain remove':
        await removeDomain(db, actor, arg(0, 'domain'));
        done(`domain ${arg(0, 'domain')} removed`);
        break;
      case 'account add': {
        const address = arg(0, 'address');
        const quota = quotaFlag(parsed);
        const account = await addAccount(accounts, actor, {
          address,
          password: await readPassword(parsed),
          displayName: typeof parsed.flags.get('--name') === 'string' ? (parsed.flags.get('--name') as string) : '',
          active: !parsed.flags.has('--inactive'),
          quota
        });
        done(`account ${displayAddress(account.address)} added${account.active ? '' : ' (inactive)'}`);
        break;
      }
      case 'account list': {
        const domain = parsed.flags.get('--domain');
        const rows = await listAccounts(db, typeof domain === 'string' ? checkDomainName('domain', domain) : undefined);
        print(
          parsed,
          rows.map((a) => ({ address: displayAddress(a.address), displayName: a.display_name, active: a.active === 1, usedBytes: a.used_bytes, quota: a.quota, status: a.active ? 'active' : 'inactive' })),
          ['address', 'status', 'usedBytes', 'quota', 'displayName']
        );
        break;
      }
      case 'account remove': {
        const address = arg(0, 'address');
        if (!parsed.flags.has('--yes') && !(await confirm(`Delete ${address} and ALL its mail? Type the address to confirm: `, address))) {
          throw new UsageError('not confirmed: pass --yes to delete the account and all its mail');
        }
        await deleteAccount(db, new BlobStore(config.dataDir), actor, address);
        done(`account ${address} and all its mail removed`);
        break;
      }
      case 'account update': {
        const changes: { displayName?: string; quota?: number } = {};
        const name = parsed.flags.get('--name');
        if (typeof name === 'string') changes.displayName = name;
        if (parsed.flags.has('--quota')) changes.quota = quotaFlag(parsed)!;
        if (!Object.keys(changes).length) throw new UsageError('account update needs --name and/or --quota');
        const account = await updateAccount(db, actor, arg(0, 'address'), changes);
        done(`account ${displayAddress(account.address)} updated (display name "${account.display_name}", quota ${account.quota || 'unlimited'})`);
        break;
      }
      case 'account merge': {
        const [source, target] = [arg(0, 'source address'), arg(1, 'target address')];
        if (!parsed.flags.has('--yes') && !(await confirm(`Move all mail of ${source} into ${target} and delete ${source}? Type the source address to confirm: `, source))) {
          throw new UsageError('not confirmed: pass --yes to merge');
        }
        const result = await mergeAccounts(db, actor, source, target);
        if (parsed.flags.has('--json')) print(parsed, [{ source, target, moved: result.moved, folders: result.folders.map(({ from, to, moved }) => ({ from, to, moved })) }], []);
        else done(`${source} merged into ${target}: ${result.moved} message(s) in ${result.folders.length} folder(s); ${source} is now an alias of ${target}`);
        break;
      }
      case 'account passwd':
        await setPassword(accounts, actor, arg(0, 'address'), await readPassword(parsed));
        done(`password of ${arg(0, 'address')} changed`);
        break;
      case 'account activate':
      case 'account deactivate':
        await setActive(db, actor, arg(0, 'address'), verb === 'activate');
        done(`account ${arg(0, 'address')} ${verb}d`);
        break;
      case 'alias add':
        await addAlias(db, actor, arg(0, 'alias'), arg(1, 'account'));
        done(`alias ${arg(0, 'alias')} -> ${arg(1, 'account')} added`);
        break;
      case 'alias list':
        print(parsed, (await listAliases(db, parsed.positional[2])).map((a) => ({ address: displayAddress(a.address), account: displayAddress(a.account) })), ['address', 'account']);
        break;
      case 'alias remove':
        await removeAlias(db, actor, arg(0, 'alias'));
        done(`alias ${arg(0, 'alias')} removed`);
        break;
      case 'forward add': {
        arg(1, 'destination');
        const destinations = parsed.positional.slice(3);
        const keepCopy = parsed.flags.has('--keep-copy') ? true : parsed.flags.has('--no-keep-copy') ? false : undefined;
        await addForward(db, actor, arg(0, 'source'), destinations, keepCopy);
        done(`forward ${arg(0, 'source')} -> ${destinations.join(', ')} added${parsed.flags.has('--keep-copy') ? ' (keeping a copy)' : ''}`);
        break;
      }
      case 'forward list':
        print(
          parsed,
          (await listForwards(db, parsed.positional[2])).map((f) => ({ source: displayAddress(f.source), destinations: f.destinations, keepCopy: f.keepCopy, list: f.destinations.join(','), copy: f.keepCopy ? 'keep-copy' : 'no-copy' })),
          ['source', 'list', 'copy']
        );
        break;
      case 'forward remove':
        await removeForward(db, actor, arg(0, 'source'), parsed.positional[3]);
        done(`forward ${arg(0, 'source')}${parsed.positional[3] ? ' -> ' + parsed.positional[3] : ''} removed`);
        break;
      case 'catchall set':
        await setCatchAll(db, actor, arg(0, 'domain'), arg(1, 'address'));
        done(`catch-all of ${arg(0, 'domain')} -> ${arg(1, 'address')}`);
        break;
      case 'owner create': {
        const login = arg(0, 'address');
        const owner = await createFirstOwner(db, accounts.policy, actor, login, await readPassword(parsed));
        done(`owner ${displayAddress(owner.login)} created`);
        break;
      }
      case 'token create': {
        const role = parsed.flags.get('--role') ?? 'owner';
        if (role !== 'owner' && role !== 'admin') throw new UsageError('--role is owner or admin');
        const { token, view } = await createApiToken(db, actor, { name: arg(0, 'token name'), role, createdBy: null });
        if (parsed.flags.has('--json')) print(parsed, [{ ...view, token }], []);
        else done(`API token ${view.id} "${view.name}" (role ${view.role}); shown only now:\n${token}`);
        break;
      }
      case 'token list':
        print(parsed, (await listApiTokens(db)).map((t) => ({ ...t, status: t.revokedAt ? 'revoked' : 'active' })), ['id', 'name', 'role', 'status']);
        break;
      case 'token revoke': {
        const id = arg(0, 'token id');
        if (!/^\d+$/.test(id)) throw new UsageError('token revoke takes the numeric id from token list');
        await revokeApiToken(db, actor, Number(id));
        done(`API token ${id} revoked`);
        break;
      }
      case 'queue list': {
        const entries = await listQueueViews(db);
        if (parsed.flags.has('--json')) print(parsed, entries as unknown as Array<Record<string, unknown>>, []);
        else
          print(
            parsed,
            entries.flatMap((e) => e.recipients.filter((r) => r.status === 'pending').map((r) => ({ ...e, recipient: r.address, sender: e.sender || '<>', lastError: e.lastError ?? '' }))),
            ['id', 'sender', 'recipient', 'attempts', 'nextAttempt', 'lastError']
          );
        break;
      }
      case 'queue retry': {
        const target = parsed.flags.has('--all') ? 'all' : queueId(arg(0, 'queue entry id (or --all)'));
        const n = await retryQueued(db, actor, target);
        done(`${n} queue ${n === 1 ? 'entry' : 'entries'} due now`);
        break;
      }
      case 'queue delete': {
        const id = queueId(arg(0, 'queue entry id'));
        const blobs = new BlobStore(config.dataDir);
        await deleteQueued(db, blobs, actor, id);
        done(`queue entry ${id} deleted (no bounce sent)`);
        break;
      }
      case 'catchall clear':
        await clearCatchAll(db, actor, arg(0, 'domain'));
        done(`catch-all of ${arg(0, 'domain')} cleared`);
        break;
      default:
        if (area === 'import') {
          const { importCommand } = await import('./cli/import.js');
          const usage = (message: string) => new UsageError(message);
          exitCode = await importCommand({ config, db, actor, positional: parsed.positional.slice(1), flags: parsed.flags, readPassword: () => readPassword(parsed), print: (rows, columns) => print(parsed, rows, columns), usage, out: done });
          break;
        }
        throw new UsageError(`unknown admin command "${parsed.positional.join(' ')}"`);
    }
  } finally {
    await close();
  }
  return exitCode;
}

async function serve(): Promise<void> {
  const config = loadConfig();
  // Loaded here, not at the top: admin and config commands never need the servers, and operators script them.
  const { build } = await import('./app.js');
  const app = await build(config);
  const log = app.services.log;
  const listening = await app.listen();
  const host = config.bind === '0.0.0.0' || config.bind === '::' ? config.hostname : config.bind;
  const lines = [`Postfach is running (data in ${config.dataDir}, host name ${config.hostname})`];
  if (listening.smtp !== undefined) lines.push(`  SMTP (MX)      ${host}:${listening.smtp}`);
  if (listening.submission !== undefined) lines.push(`  Submission     ${host}:${listening.submission} (STARTTLS)`);
  if (listening.submissions !== undefined) lines.push(`  Submissions    ${host}:${listening.submissions} (TLS)`);
  if (listening.imap !== undefined) lines.push(`  IMAP           ${host}:${listening.imap} (STARTTLS)`);
  if (listening.imaps !== undefined) lines.push(`  IMAPS          ${host}:${listening.imaps} (TLS)`);
  if (listening.pop3 !== undefined) lines.push(`  POP3           ${host}:${listening.pop3} (STLS)`);
  if (listening.pop3s !== undefined) lines.push(`  POP3S          ${host}:${listening.pop3s} (TLS)`);
  const plugins = app.services.plugins.describe().map((p) => p.name);
  if (plugins.length) lines.push(`  Plugins        ${plugins.join(', ')}`);
  if (listening.http !== undefined) {
    const base = `${config.http.tls ? 'https' : 'http'}://${host}:${listening.http}`;
    lines.push(`  Admin UI       ${base}/ (German and English)`);
    lines.push(`  Admin API      ${base}/api/v1 (OpenAPI: ${base}/api/docs)`);
    // the link is the only way in until an owner exists: printed here, never written to the log
    if (app.setupToken) lines.push('', `  No owner yet. Create one with this one-time link:`, `  ${base}/setup#token=${app.setupToken}`, `  or: postfach admin owner create <address> --password-stdin`, '');
  }
  lines.push('  Manage domains and accounts with: postfach admin --help');
  process.stdout.write(lines.join('\n') + '\n');
  log.info({ listening }, 'listening');
  let stopping = false;
  // SIGTERM/SIGINT: graceful (transactions finish, IMAP gets BYE, the queue records its attempts); a second one: now
  const stop = async (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second stop signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, timeoutSeconds: config.shutdownTimeout }, 'shutting down');
    try {
      await app.close();
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
    log.info('stopped');
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

export async function main(argv: string[]): Promise<number> {
  try {
    const parsed = parseArgs(argv);
    const [command, ...rest] = parsed.positional;
    if (!command || command === 'help' || parsed.flags.has('--help')) {
      const asked = Boolean(command) || parsed.flags.has('--help');
      (asked ? process.stdout : process.stderr).write(USAGE + '\n');
      return asked ? 0 : 2;
    }
    if (command === 'serve') {
      await serve();
      return -1; // keep running
    }
    if (command === 'admin') {
      return await admin({ positional: rest, flags: parsed.flags });
    }
    if (command === 'backup' || command === 'restore') {
      const { backupCommand } = await import('./cli/backup.js');
      return await backupCommand(command, rest, { force: parsed.flags.has('--force'), json: parsed.flags.has('--json') }, loadConfig());
    }
    if (command === 'healthcheck') {
      const { healthcheckCommand } = await import('./cli/healthcheck.js');
      return await healthcheckCommand(loadConfig());
    }
    if (command === 'config' && rest[0] === 'example') {
      process.stdout.write(exampleConfig());
      return 0;
    }
    if (command === 'config' && rest[0] === 'reference') {
      process.stdout.write(configReference());
      return 0;
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`postfach: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (err instanceof DirectoryError) {
      process.stderr.write(`postfach: ${err.field}: ${err.message}\n`);
      return 1;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`postfach: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`postfach: ${(err as Error).stack ?? err}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
