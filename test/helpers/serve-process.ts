// Test helper: runs `postfach serve` exactly as operators and the container do (a child process configured only by
// POSTFACH_* variables), reads the bound ports from what it prints, and stops it with a signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { POSTFACH_ENTRY, REPO_ROOT } from './cli.js';

export interface ServeProcess {
  child: ChildProcess;
  /** bound ports by the names `serve` prints: smtp, submission, submissions, imap, imaps, http */
  ports: Record<string, number>;
  /** everything printed so far on standard output and standard error */
  output(): string;
  /** sends the signal and resolves with the exit code once the process ended (SIGKILL after `timeoutMs`) */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

const LABELS: Array<[string, RegExp]> = [
  ['smtp', /SMTP \(MX\)\s+\S+:(\d+)/],
  ['submission', /Submission\s+\S+:(\d+) \(STARTTLS\)/],
  ['submissions', /Submissions\s+\S+:(\d+) \(TLS\)/],
  ['imap', /IMAP\s+\S+:(\d+) \(STARTTLS\)/],
  ['imaps', /IMAPS\s+\S+:(\d+) \(TLS\)/],
  ['http', /Admin API\s+https?:\/\/[^:]+:(\d+)\//]
];

/** Starts `postfach serve` with `env` (the parent's POSTFACH_* variables are not inherited) and waits until it listens. */
export async function startServe(env: Record<string, string>, entry: string[] = POSTFACH_ENTRY, options: { cwd?: string; startTimeoutMs?: number } = {}): Promise<ServeProcess> {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('POSTFACH_')) childEnv[name] = value;
  Object.assign(childEnv, env);
  const child = spawn(process.execPath, [...entry, 'serve'], { cwd: options.cwd ?? REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  let running = true;
  void exited.then(() => (running = false));
  while (!out.includes('Manage domains and accounts with')) {
    if (!running) throw new Error(`postfach serve exited before listening:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`postfach serve did not listen in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const ports: Record<string, number> = {};
  for (const [name, pattern] of LABELS) {
    const m = pattern.exec(out);
    if (m) ports[name] = Number(m[1]);
  }
  return {
    child,
    ports,
    output: () => out,
    async stop(signal = 'SIGTERM', timeoutMs = 20_000) {
      const started = Date.now();
      if (running) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return { ...result, ms: Date.now() - started };
    }
  };
}

/** POSTFACH_* variables for a server on 127.0.0.1 with every listener on a free port, and the given data folder. */
export function serveEnv(dataDir: string, dns: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    POSTFACH_DATA_DIR: dataDir,
    POSTFACH_HOSTNAME: 'mx.postfach.test',
    POSTFACH_BIND: '127.0.0.1',
    POSTFACH_SMTP_PORT: '0',
    POSTFACH_SUBMISSION_PORT: '0',
    POSTFACH_SUBMISSIONS_PORT: '0',
    POSTFACH_IMAP_PORT: '0',
    POSTFACH_IMAPS_PORT: '0',
    POSTFACH_POP3_PORT: '-1',
    POSTFACH_POP3S_PORT: '-1',
    POSTFACH_HTTP_PORT: '0',
    POSTFACH_DNS_SERVERS: dns,
    POSTFACH_DNS_TIMEOUT: '2000',
    POSTFACH_LOG_LEVEL: process.env.POSTFACH_TEST_LOG ?? 'warn',
    ...extra
  };
}
