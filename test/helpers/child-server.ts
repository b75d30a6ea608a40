// Starts test/helpers/server-process.ts as a child process and talks to it line by line.
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface ChildServer {
  process: ChildProcess;
  port: number;
  /** every bound port by service (smtp, imap, …) */
  ports: Record<string, number>;
  /** ends stdin: the child reports what it stored and exits */
  finish(): Promise<{ stored: number; head: string }>;
  /** SIGKILL: a crash at whatever point the server is */
  crash(): Promise<void>;
}

export async function startChildServer(options: { dns: string; dataDir?: string; overrides?: Record<string, unknown>; domain?: string; locals?: string[] }, nodeArgs: string[] = []): Promise<ChildServer> {
  const script = fileURLToPath(new URL('./server-process.ts', import.meta.url));
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error('server process ended without answering');
    return JSON.parse(value as string);
  };
  const { port, ports } = await next();
  return {
    process: child,
    port,
    ports,
    async finish() {
      child.stdin!.end();
      const report = await next();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      return report;
    },
    async crash() {
      child.kill('SIGKILL');
      await exited;
    }
  };
}
