// Test helper: runs the real `postfach` command (the build test/global-setup.ts keeps current) as a child process, as
// operators do.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** node arguments that run the built `postfach` (what bin/postfach.js imports) */
export const POSTFACH_ENTRY = [path.join(REPO_ROOT, 'dist/server/main.js')];

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** POSTFACH_* (and other) variables; the parent's POSTFACH_* variables are never inherited */
  env?: Record<string, string>;
  /** written to standard input, which is then closed (standard input is a pipe, never a terminal) */
  stdin?: string;
  /** kill the child after this many milliseconds (a command that hangs fails the test instead of stalling it) */
  timeoutMs?: number;
}

/** Runs `postfach <args>` and collects its exit code and output. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('POSTFACH_')) env[name] = value;
  Object.assign(env, options.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...POSTFACH_ENTRY, ...args], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') });
    });
    child.stdin.on('error', () => undefined); // the command may exit before reading its input
    child.stdin.end(options.stdin ?? '');
  });
}
