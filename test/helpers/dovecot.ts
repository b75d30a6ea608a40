// Test helper: Debian's Dovecot as an old provider's IMAP server on 127.0.0.1, started in the foreground with a
// temporary configuration (passwd-file users with plain passwords, Maildir in a temp folder, no TLS).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { tempDir } from './server.js';

const DOVECOT = ['/usr/sbin/dovecot', '/usr/local/sbin/dovecot'].find((p) => fs.existsSync(p)) ?? null;

/** Why Dovecot tests cannot run here, or null when they can. */
export const NO_DOVECOT: string | null = DOVECOT ? null : 'Dovecot is not installed (apt-get install dovecot-imapd)';

export interface Dovecot {
  port: number;
  /** the Dovecot version, e.g. "2.3.19.1" */
  version: string;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** uid/gid of a system user, from getent. */
function systemUser(name: string): { uid: number; gid: number } | null {
  try {
    const [, , uid, gid] = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim().split(':');
    return { uid: Number(uid), gid: Number(gid) };
  } catch {
    return null;
  }
}

/**
 * Starts Dovecot with these users (address -> password). The mailbox namespace keeps Maildir++'s "." separator, and
 * "Gesendete Elemente" carries \Sent (RFC 6154), as a provider would configure it.
 */
export async function startDovecot(users: Record<string, string>): Promise<Dovecot> {
  if (!DOVECOT) throw new Error(NO_DOVECOT!);
  const root = tempDir('postfach-dovecot-');
  fs.chmodSync(root, 0o755);
  const port = await freePort();
  // Dovecot refuses to run its login process and mail access as root: as root, the package's own users do that
  const asRoot = process.getuid?.() === 0;
  const internal = asRoot ? 'dovecot' : os.userInfo().username;
  const login = asRoot ? 'dovenull' : os.userInfo().username;
  const mailUser = asRoot ? systemUser('dovecot') : { uid: process.getuid!(), gid: process.getgid!() };
  if (!mailUser) throw new Error('the dovecot system user is missing');
  const group = asRoot ? 'dovecot' : execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
  for (const dir of ['mail', 'home']) {
    fs.mkdirSync(path.join(root, dir));
    if (asRoot) fs.chownSync(path.join(root, dir), mailUser.uid, mailUser.gid);
  }
  fs.writeFileSync(path.join(root, 'passwd'), Object.entries(users).map(([user, pass]) => `${user}:{PLAIN}${pass}::::::\n`).join(''));
  const config = `
base_dir = ${root}/run
state_dir = ${root}/state
log_path = ${root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# answer a wrong password at once (the default waits 2 s)
auth_failure_delay = 0
default_internal_user = ${internal}
default_internal_group = ${group}
default_login_user = ${login}
first_valid_uid = 0
mail_location = maildir:${root}/mail/%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN ${root}/passwd
}
userdb {
  driver = passwd-file
  args = ${root}/passwd
  default_fields = uid=${mailUser.uid} gid=${mailUser.gid} home=${root}/home/%u
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
namespace inbox {
  inbox = yes
  mailbox "Gesendete Elemente" {
    special_use = \\Sent
  }
}
`;
  fs.writeFileSync(path.join(root, 'dovecot.conf'), config);
  const version = execFileSync(DOVECOT, ['--version'], { encoding: 'utf8' }).trim().split(' ')[0];
  const child: ChildProcess = spawn(DOVECOT, ['-F', '-c', path.join(root, 'dovecot.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // ready once the login listener answers with a greeting
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dovecot exited: ${stderr}`);
    const greeting = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString());
      });
      socket.once('error', () => resolve(''));
    });
    if (greeting.startsWith('* OK')) break;
    if (Date.now() - started > 10_000) {
      child.kill('SIGKILL');
      throw new Error(`dovecot did not start: ${stderr} ${fs.existsSync(path.join(root, 'dovecot.log')) ? fs.readFileSync(path.join(root, 'dovecot.log'), 'utf8') : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    version,
    async close() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      fs.rmSync(root, { recursive: true, force: true });
    }
  };
}
