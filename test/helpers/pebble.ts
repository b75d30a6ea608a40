// Test helper: pebble (Let's Encrypt's ACME test CA, Debian package `pebble`) on loopback, validating HTTP-01 on the
// port the test names and resolving names through the test's DNS server.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { generate } from 'selfsigned';

export const NO_PEBBLE = (() => {
  try {
    execFileSync('pebble', ['-h'], { stdio: 'ignore' });
    return null;
  } catch (err) {
    // `pebble -h` exits 2 after printing its usage: only a missing binary is a reason to skip
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'pebble is not installed (apt-get install pebble)' : null;
  }
})();

/** A free loopback port (bound to port 0, then released) for a server that cannot report the port it bound. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface Pebble {
  directoryUrl: string;
  /** PEM of the certificate pebble's own HTTPS presents (trust it as acme.caFile) */
  caFile: string;
  stop(): Promise<void>;
}

/** Writes the TLS pair for pebble's HTTPS listener (127.0.0.1) into `dir`. */
export async function pebbleTls(dir: string): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }]
  });
  const cert = path.join(dir, 'pebble.crt');
  const key = path.join(dir, 'pebble.key');
  fs.writeFileSync(cert, pems.cert);
  fs.writeFileSync(key, pems.private);
  return { cert, key };
}

/** Starts pebble on `port`; HTTP-01 challenges are fetched from `httpPort` of the name's A record. */
export async function startPebble(options: { dir: string; port: number; httpPort: number; dns: string; tls: { cert: string; key: string } }): Promise<Pebble> {
  const { tls } = options;
  const config = path.join(options.dir, 'pebble.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      pebble: { listenAddress: `127.0.0.1:${options.port}`, managementListenAddress: '', certificate: tls.cert, privateKey: tls.key, httpPort: options.httpPort, tlsPort: 5001, ocspResponderURL: '', externalAccountBindingRequired: false }
    })
  );
  const child: ChildProcess = spawn('pebble', ['-config', config, '-dnsserver', options.dns, '-strict=false'], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const deadline = Date.now() + 15_000;
  while (!/ACME directory available at/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`pebble did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    directoryUrl: `https://127.0.0.1:${options.port}/dir`,
    caFile: tls.cert,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      })
  };
}
