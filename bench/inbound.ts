// Inbound benchmark: N DKIM-signed 10 KB messages over C concurrent SMTP connections through the MX to one account,
// SPF/DKIM/DMARC verified against a loopback DNS server; prints messages/second and checks every message is stored.
import crypto from 'node:crypto';
import nodemailer from 'nodemailer';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { startDnsServer } from '../test/helpers/dns-server.js';
import { startChildServer } from '../test/helpers/child-server.js';

export interface InboundOptions {
  messages: number;
  connections: number;
  sizeKb: number;
}

const SENDER_DOMAIN = 'bench-sender.test';

function body(sizeKb: number, i: number): string {
  const line = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore.\r\n';
  return `Message ${i}\r\n` + line.repeat(Math.ceil((sizeKb * 1024) / line.length));
}

export async function benchInbound(options: InboundOptions): Promise<Record<string, number | string>> {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const dns = await startDnsServer({
    [SENDER_DOMAIN]: [{ type: 'TXT', data: 'v=spf1 ip4:127.0.0.1 -all' }],
    [`bench._domainkey.${SENDER_DOMAIN}`]: [{ type: 'TXT', data: `v=DKIM1; k=rsa; p=${publicKey.toString('base64')}` }],
    [`_dmarc.${SENDER_DOMAIN}`]: [{ type: 'TXT', data: 'v=DMARC1; p=reject' }]
  });
  const raws: Buffer[] = [];
  for (let i = 0; i < options.messages; i++) {
    const message = Buffer.from(
      [`From: Bench <bench@${SENDER_DOMAIN}>`, 'To: info@firma.de', `Subject: Benchmark ${i}`, `Message-ID: <bench-${i}@${SENDER_DOMAIN}>`, `Date: ${new Date().toUTCString()}`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', body(options.sizeKb, i)].join('\r\n')
    );
    const signed = await dkimSign(message, { signatureData: [{ signingDomain: SENDER_DOMAIN, selector: 'bench', privateKey }] });
    raws.push(Buffer.concat([Buffer.from(signed.signatures), message]));
  }
  // The MX runs in its own process so the client below does not share its event loop.
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = await startChildServer({ dns: dns.address, overrides: { 'smtp.maxConnectionsPerIp': options.connections + 5 }, domain: 'firma.de', locals: ['info'] }, profile);
  const port = child.port;
  try {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, pool: true, maxConnections: options.connections, maxMessages: Infinity });
    const started = process.hrtime.bigint();
    await Promise.all(
      raws.map((raw) => transport.sendMail({ envelope: { from: `bench@${SENDER_DOMAIN}`, to: ['info@firma.de'] }, raw }))
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    transport.close();

    const { stored, head } = await child.finish();
    if (stored !== options.messages) throw new Error(`stored ${stored} of ${options.messages} messages`);
    for (const want of ['spf=pass', 'dkim=pass', 'dmarc=pass']) if (!head.includes(want)) throw new Error(`stored message lacks ${want}`);
    return {
      benchmark: 'inbound MX',
      messages: options.messages,
      connections: options.connections,
      messageKb: options.sizeKb,
      seconds: Number(seconds.toFixed(2)),
      messagesPerSecond: Number((options.messages / seconds).toFixed(1)),
      verified: 'all stored, spf/dkim/dmarc=pass'
    };
  } finally {
    if (child.process.exitCode === null) await child.crash();
    await dns.close();
  }
}
