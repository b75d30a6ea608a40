// ACME (RFC 8555) certificates for the box's host name with acme-client: HTTP-01 challenges answered by the HTTP
// listener, account key and certificate kept in <dataDir>/acme, renewal some days before expiry, retries after errors.
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import acme from 'acme-client';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { inspectPair, type TlsMaterial, type TlsPair } from './material.js';

/** Key authorizations of pending HTTP-01 challenges by token (RFC 8555 §8.3), read by the challenge route. */
export class AcmeChallenges {
  private readonly pending = new Map<string, string>();

  set(token: string, keyAuthorization: string): void {
    this.pending.set(token, keyAuthorization);
  }

  delete(token: string): void {
    this.pending.delete(token);
  }

  get(token: string): string | undefined {
    return this.pending.get(token);
  }
}

export interface AcmeTiming {
  /** how often the certificate's remaining lifetime is checked */
  checkIntervalMs: number;
  /** wait after a failed order before the next try (Let's Encrypt allows 5 failed validations per hour) */
  retryMs: number;
  /** first wait between polls of an order's status (doubling up to 6 times as much) */
  pollMs: number;
  now(): number;
}

const DEFAULT_TIMING: AcmeTiming = { checkIntervalMs: 12 * 3600_000, retryMs: 3600_000, pollMs: 5000, now: Date.now };

export interface AcmeFiles {
  accountKey: string;
  key: string;
  cert: string;
}

export function acmeFiles(dataDir: string): AcmeFiles {
  const dir = path.join(dataDir, 'acme');
  return { accountKey: path.join(dir, 'account.key'), key: path.join(dir, 'certificate.key'), cert: path.join(dir, 'certificate.crt') };
}

/** Writes a file so that a crash leaves the old or the new content, never a mix (temp file, fsync, rename). */
function writeAtomically(file: string, content: string, mode: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(temp, 'w', mode);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
}

export class AcmeCertificates {
  private readonly log: Logger;
  private readonly files: AcmeFiles;
  private readonly timing: AcmeTiming;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** renewals that ended with a new certificate (tests and logs) */
  issued = 0;

  constructor(
    private readonly config: Config,
    private readonly material: TlsMaterial,
    readonly challenges: AcmeChallenges,
    log: Logger,
    timing: Partial<AcmeTiming> = {}
  ) {
    this.log = log.child({ module: 'acme' });
    this.files = acmeFiles(config.dataDir);
    this.timing = { ...DEFAULT_TIMING, ...timing };
    if (config.acme.caFile) {
      // a private ACME CA (or a test CA): trusted for the directory's HTTPS in addition to the system's roots
      const ca = [...tls.rootCertificates, fs.readFileSync(config.acme.caFile, 'utf8')];
      acme.axios.defaults.httpsAgent = new https.Agent({ ca });
    }
  }

  /** Serves the certificate stored by an earlier run, when it is for this host name and still valid. */
  loadStored(): void {
    if (!fs.existsSync(this.files.cert) || !fs.existsSync(this.files.key)) return;
    try {
      const pair: TlsPair = { cert: fs.readFileSync(this.files.cert, 'utf8'), key: fs.readFileSync(this.files.key, 'utf8') };
      const facts = inspectPair(pair);
      if (facts.validTo.getTime() <= this.timing.now()) {
        this.log.warn({ notAfter: facts.validTo.toISOString() }, 'stored ACME certificate has expired; ordering a new one');
        return;
      }
      if (!this.coversHostname(pair.cert)) {
        this.log.warn({ hostname: this.config.hostname }, 'stored ACME certificate is for another host name; ordering a new one');
        return;
      }
      this.material.replace(pair, 'acme');
    } catch (err) {
      this.log.error({ reason: (err as Error).message }, 'stored ACME certificate is unusable; ordering a new one');
    }
  }

  /** Starts the schedule: a check now, then every checkIntervalMs (or retryMs after a failure). */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops the schedule and waits for an order in progress to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** When the current certificate should be renewed (ms since the epoch); 0 when it is not an ACME one for this host. */
  renewalDue(): number {
    if (this.material.source !== 'acme' || !this.coversHostname(this.material.cert)) return 0;
    return this.material.certificate.validTo.getTime() - this.config.acme.renewBefore * 86400_000;
  }

  private coversHostname(cert: string): boolean {
    return new crypto.X509Certificate(cert).checkHost(this.config.hostname) !== undefined;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.check().finally(() => (this.running = null));
    }, delayMs);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    const due = this.renewalDue();
    const now = this.timing.now();
    if (due > now) {
      this.schedule(Math.min(this.timing.checkIntervalMs, due - now));
      return;
    }
    try {
      await this.order();
      this.schedule(this.timing.checkIntervalMs);
    } catch (err) {
      const reason = (err as Error).message;
      this.log.error({ err, reason, directory: this.config.acme.directoryUrl, retryInSeconds: Math.round(this.timing.retryMs / 1000) }, 'ACME certificate order failed; the current certificate stays');
      this.schedule(this.timing.retryMs);
    }
  }

  private async accountKey(): Promise<string> {
    if (fs.existsSync(this.files.accountKey)) return fs.readFileSync(this.files.accountKey, 'utf8');
    const key = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    writeAtomically(this.files.accountKey, key, 0o600);
    this.log.info({ file: this.files.accountKey }, 'ACME account key created');
    return key;
  }

  /** One order: account (created or found by its key), HTTP-01 for the host name, CSR with a new RSA key, certificate. */
  private async order(): Promise<void> {
    const { hostname, acme: settings } = this.config;
    this.log.info({ hostname, directory: settings.directoryUrl }, 'ordering a certificate over ACME');
    const client = new acme.Client({ directoryUrl: settings.directoryUrl, accountKey: await this.accountKey(), backoffMin: this.timing.pollMs, backoffMax: this.timing.pollMs * 6 });
    // RSA 2048: every mail client still in use accepts it
    const [key, csr] = await acme.crypto.createCsr({ commonName: hostname, altNames: [hostname] }, await acme.crypto.createPrivateRsaKey(2048));
    const cert = await client.auto({
      csr,
      email: settings.email || undefined,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // the CA checks the challenge itself; a self-check from inside would fail behind NAT without hairpinning
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => this.challenges.set(challenge.token, keyAuthorization),
      challengeRemoveFn: async (_authz, challenge) => this.challenges.delete(challenge.token)
    });
    const pair: TlsPair = { key: key.toString(), cert };
    const facts = inspectPair(pair);
    writeAtomically(this.files.key, pair.key, 0o600);
    writeAtomically(this.files.cert, pair.cert, 0o644);
    this.issued++;
    this.log.info({ hostname, fingerprint: facts.fingerprint, notAfter: facts.validTo.toISOString() }, 'ACME certificate issued');
    this.material.replace(pair, 'acme');
  }
}
