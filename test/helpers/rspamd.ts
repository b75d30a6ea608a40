// Test helper: Debian's rspamd started on 127.0.0.1 and a free port, with a minimal configuration in a temp folder
// (the packaged rules, no Redis, no network lookups, a tiny TLD list so it starts in seconds), for the rspamd plugin.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { installed } from './sample-mail.js';

/** Why the rspamd tests cannot run here, or null when they can. */
export const NO_RSPAMD = installed('rspamd') && fs.existsSync('/etc/rspamd/common.conf') ? null : 'rspamd is not installed (apt-get install rspamd)';

export interface TestRspamd {
  url: string;
  close(): Promise<void>;
}

/** A loopback port nothing listens on (free at the time of asking). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startRspamd(): Promise<TestRspamd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postfach-rspamd-'));
  // compiled regular expressions are kept between runs: the first start compiles them, later ones load them
  const cache = path.join(os.tmpdir(), 'postfach-test-rspamd-cache');
  fs.mkdirSync(cache, { recursive: true });
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'tld.dat'), 'com\nde\nnet\norg\ntest\n');
  fs.writeFileSync(
    path.join(dir, 'rspamd.conf'),
    `.include "$CONFDIR/common.conf"
options {
  pidfile = "${dir}/rspamd.pid";
  dbdir = "${dir}";
  hs_cache_dir = "${cache}";
  cache_file = "${dir}/symbols.cache";
  control_socket = "${dir}/rspamd.sock mode=0600";
  url_tld = "${dir}/tld.dat";
  filters = "chartable,dkim,regexp";
  allow_raw_input = true;
  task_timeout = 8s;
  explicit_modules = ["settings"];
  local_addrs = [];
  dns { nameserver = ["127.0.0.1:1"]; timeout = 0.2s; retransmits = 1; }
}
logging { type = "console"; level = "error"; }
worker "normal" {
  bind_socket = "127.0.0.1:${port}";
  mime = true;
  count = 1;
}
`
  );
  const root = process.getuid?.() === 0 ? ['-u', 'root', '-g', 'root', '-i'] : [];
  const vars = ['DBDIR', 'RUNDIR', 'LOGDIR', 'LOCAL_CONFDIR'].flatMap((v) => ['--var', `${v}=${dir}`]);
  const child = spawn('rspamd', ['-f', ...root, '-c', path.join(dir, 'rspamd.conf'), ...vars], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) {
      await close();
      throw new Error(`rspamd exited with ${child.exitCode}: ${output}`);
    }
    const pong = await fetch(`${url}/ping`).then((r) => r.text(), () => '');
    if (pong.trim() === 'pong') return { url, close };
    if (Date.now() > deadline) {
      await close();
      throw new Error(`rspamd did not answer on ${url} within 90 s: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
