// The certificate every TLS listener presents, swappable while running: listeners ask for the current secure context
// per handshake (STARTTLS) or have their server's default context replaced on every change (implicit TLS, HTTPS).
import crypto from 'node:crypto';
import tls from 'node:tls';
import type { Logger } from '../log/logger.js';

/** Modern settings for every TLS listener: TLS 1.2 and newer. */
export const TLS_DEFAULTS = { minVersion: 'TLSv1.2' as const, honorCipherOrder: true };

export interface TlsPair {
  /** PEM private key */
  key: string;
  /** PEM certificate chain, leaf first */
  cert: string;
}

/** What a certificate is, for logs, metrics and the renewal schedule. */
export interface CertificateFacts {
  subject: string;
  /** SHA-256 fingerprint of the leaf, colon-separated hex as openssl prints it */
  fingerprint: string;
  validFrom: Date;
  validTo: Date;
}

export class TlsPairError extends Error {}

/**
 * Checks that a pair can serve: the chain parses, the key parses and belongs to the leaf, and node can build a
 * context from it. Throws TlsPairError saying what is wrong; never includes key material in the message.
 */
export function inspectPair(pair: TlsPair): CertificateFacts {
  let leaf: crypto.X509Certificate;
  try {
    leaf = new crypto.X509Certificate(pair.cert);
  } catch (err) {
    throw new TlsPairError(`certificate does not parse: ${(err as Error).message}`);
  }
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(pair.key);
  } catch (err) {
    throw new TlsPairError(`private key does not parse: ${(err as Error).message}`);
  }
  if (!leaf.checkPrivateKey(key)) throw new TlsPairError('private key does not belong to the certificate');
  try {
    tls.createSecureContext({ ...pair, ...TLS_DEFAULTS });
  } catch (err) {
    throw new TlsPairError(`certificate and key are not usable together: ${(err as Error).message}`);
  }
  return { subject: leaf.subject.replace(/\n/g, ', '), fingerprint: leaf.fingerprint256, validFrom: new Date(leaf.validFrom), validTo: new Date(leaf.validTo) };
}

/** Where the current pair came from: configured files, the generated self-signed one, or ACME. */
export type TlsSource = 'files' | 'self-signed' | 'acme';

export class TlsMaterial {
  private pair: TlsPair;
  private context: tls.SecureContext;
  private facts: CertificateFacts;
  private readonly listeners = new Set<(material: TlsMaterial) => void>();
  private readonly refusals = new Set<(reason: string) => void>();
  private readonly cleanups: Array<() => void> = [];

  constructor(
    pair: TlsPair,
    public source: TlsSource,
    private readonly log: Logger
  ) {
    this.facts = inspectPair(pair);
    this.pair = pair;
    this.context = tls.createSecureContext({ ...pair, ...TLS_DEFAULTS });
  }

  get key(): string {
    return this.pair.key;
  }

  get cert(): string {
    return this.pair.cert;
  }

  get selfSigned(): boolean {
    return this.source === 'self-signed';
  }

  get certificate(): CertificateFacts {
    return this.facts;
  }

  /** The context for a handshake starting now (STARTTLS upgrades build their TLSSocket with it). */
  secureContext(): tls.SecureContext {
    return this.context;
  }

  /** Options for a TLS server created now; pair it with attach() so later certificates reach it too. */
  serverOptions(): TlsPair & typeof TLS_DEFAULTS {
    return { ...this.pair, ...TLS_DEFAULTS };
  }

  /**
   * Swaps in a new pair for every handshake from now on, after checking it. A bad pair is logged and the current one
   * kept (a half-written file, a key that belongs to another certificate). Returns whether it was taken.
   */
  replace(pair: TlsPair, source: TlsSource = this.source): boolean {
    if (pair.key === this.pair.key && pair.cert === this.pair.cert) return false;
    let facts: CertificateFacts;
    try {
      facts = inspectPair(pair);
    } catch (err) {
      const reason = (err as Error).message;
      this.log.error({ reason, kept: this.facts.fingerprint }, 'new TLS certificate refused; keeping the current one');
      for (const listener of this.refusals) listener(reason);
      return false;
    }
    if (facts.validTo.getTime() < Date.now()) this.log.warn({ notAfter: facts.validTo.toISOString() }, 'new TLS certificate has already expired');
    this.pair = pair;
    this.source = source;
    this.facts = facts;
    this.context = tls.createSecureContext({ ...pair, ...TLS_DEFAULTS });
    this.log.info({ source, subject: facts.subject, fingerprint: facts.fingerprint, notAfter: facts.validTo.toISOString() }, 'TLS certificate loaded; new connections use it');
    for (const listener of this.listeners) {
      try {
        listener(this);
      } catch (err) {
        this.log.error({ err }, 'a listener failed to take the new TLS certificate');
      }
    }
    return true;
  }

  /** Calls `listener` after every swap; returns the unsubscribe function. */
  onChange(listener: (material: TlsMaterial) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls `listener` when a new pair is refused (metrics); returns the unsubscribe function. */
  onRefused(listener: (reason: string) => void): () => void {
    this.refusals.add(listener);
    return () => this.refusals.delete(listener);
  }

  /**
   * Keeps a TLS server's default context (the one used without SNI and for every implicit-TLS handshake) current.
   * Returns the detach function for the server's close().
   */
  attach(server: tls.Server): () => void {
    return this.onChange(() => server.setSecureContext(this.serverOptions()));
  }

  /** Registers something to stop at close (file watchers, renewal timers). */
  addCleanup(cleanup: () => void): void {
    this.cleanups.push(cleanup);
  }

  close(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.listeners.clear();
    this.refusals.clear();
  }
}
