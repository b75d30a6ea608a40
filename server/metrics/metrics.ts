// Prometheus metrics (prom-client, on a registry of this app's own): connections, messages received and refused,
// deliveries, login failures, queue length and certificate expiry. Counting is a few in-memory additions; the gauges
// that need the database are read only when /metrics is scraped.
import type net from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** Listener names, as in the config and the `Listening` ports. */
export type ServiceName = 'smtp' | 'submission' | 'submissions' | 'imap' | 'imaps' | 'pop3' | 'pop3s' | 'http';
export type LoginFailure = 'invalid' | 'locked' | 'inactive';
export type DeliveryResult = 'delivered' | 'deferred' | 'bounced';

export interface QueueGauges {
  entries: number;
  recipients: number;
  /** milliseconds since the epoch when the oldest entry was queued; null when empty */
  oldest: number | null;
}

export interface MetricsSources {
  queue(): Promise<QueueGauges>;
  /** the certificate the listeners present: its expiry (ms since the epoch) */
  certificateExpiry(): number;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly connectionsOpen: Gauge<'service'>;
  private readonly connectionsTotal: Counter<'service'>;
  private readonly received: Counter<'service'>;
  private readonly refused: Counter<'service' | 'reason' | 'code'>;
  private readonly deliveries: Counter<'result'>;
  private readonly loginFailures: Counter<'protocol' | 'reason'>;
  private readonly tlsReloads: Counter<'result'>;
  private sources: MetricsSources | null = null;

  constructor() {
    const registers = [this.registry];
    // process CPU, memory, event loop delay and open file descriptors under the same prefix
    collectDefaultMetrics({ register: this.registry, prefix: 'postfach_' });
    this.connectionsOpen = new Gauge({ name: 'postfach_connections_open', help: 'Client connections open now, by listener', labelNames: ['service'], registers });
    this.connectionsTotal = new Counter({ name: 'postfach_connections_total', help: 'Client connections accepted since start, by listener', labelNames: ['service'], registers });
    this.received = new Counter({ name: 'postfach_messages_received_total', help: 'Messages accepted (250 after DATA), by listener: smtp (MX), submission, submissions', labelNames: ['service'], registers });
    this.refused = new Counter({
      name: 'postfach_smtp_refused_total',
      help: 'SMTP refusals (connection, MAIL, RCPT, DATA) by listener and reason (the reply table name) with the reply code',
      labelNames: ['service', 'reason', 'code'],
      registers
    });
    this.deliveries = new Counter({ name: 'postfach_deliveries_total', help: 'Outbound delivery results per recipient: delivered, deferred (retried later), bounced (failed for good)', labelNames: ['result'], registers });
    this.loginFailures = new Counter({ name: 'postfach_login_failures_total', help: 'Failed mailbox and admin logins by protocol and reason (invalid credentials, locked by the rate limit, inactive account)', labelNames: ['protocol', 'reason'], registers });
    this.tlsReloads = new Counter({ name: 'postfach_tls_certificate_reloads_total', help: 'Certificates swapped in while running (files changed, ACME) and new ones refused as unusable', labelNames: ['result'], registers });
    this.tlsReloads.labels('loaded').inc(0);
    this.tlsReloads.labels('refused').inc(0);
    const metrics = this;
    new Gauge({
      name: 'postfach_queue_entries',
      help: 'Outbound queue entries (one per message and recipient domain) waiting for delivery',
      registers,
      async collect() {
        if (metrics.sources) this.set((await metrics.sources.queue()).entries);
      }
    });
    new Gauge({
      name: 'postfach_queue_recipients',
      help: 'Outbound recipients not yet delivered',
      registers,
      async collect() {
        if (metrics.sources) this.set((await metrics.sources.queue()).recipients);
      }
    });
    new Gauge({
      name: 'postfach_queue_oldest_age_seconds',
      help: 'Age of the oldest queue entry in seconds (0 when the queue is empty)',
      registers,
      async collect() {
        if (!metrics.sources) return;
        const { oldest } = await metrics.sources.queue();
        this.set(oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
      }
    });
    new Gauge({
      name: 'postfach_tls_certificate_expiry_timestamp_seconds',
      help: 'When the certificate the listeners present expires (Unix time)',
      registers,
      collect() {
        if (metrics.sources) this.set(metrics.sources.certificateExpiry() / 1000);
      }
    });
  }

  /** Where the scrape-time gauges read from (set once the services exist). */
  setSources(sources: MetricsSources): void {
    this.sources = sources;
  }

  /** Counts every TCP connection a listener accepts, open and total. */
  trackConnections(server: net.Server, service: ServiceName): void {
    const open = this.connectionsOpen.labels(service);
    const total = this.connectionsTotal.labels(service);
    open.set(0);
    server.on('connection', (socket: net.Socket) => {
      open.inc();
      total.inc();
      socket.once('close', () => open.dec());
    });
  }

  messageReceived(service: ServiceName): void {
    this.received.labels(service).inc();
  }

  smtpRefused(service: ServiceName, reason: string, code: number): void {
    this.refused.labels(service, reason, String(code)).inc();
  }

  delivery(result: DeliveryResult, count = 1): void {
    if (count > 0) this.deliveries.labels(result).inc(count);
  }

  loginFailed(protocol: string, reason: LoginFailure): void {
    this.loginFailures.labels(protocol, reason).inc();
  }

  tlsReload(result: 'loaded' | 'refused'): void {
    this.tlsReloads.labels(result).inc();
  }

  /** The exposition text and its content type for GET /metrics. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
