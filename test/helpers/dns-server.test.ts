// Proves the test DNS server with Node's own c-ares resolver and with raw UDP and TCP queries decoded by dns2.
import { generateKeyPairSync } from 'node:crypto';
import dgram from 'node:dgram';
import { promises as dns } from 'node:dns';
import net from 'node:net';
import { Packet } from 'dns2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reverseName, startDnsServer, type TestDnsServer, type ZoneData } from './dns-server.js';

// A real 2048-bit DKIM key record is about 410 characters: more than one 255-byte character-string.
const dkimPublicKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' });
const DKIM_2048 = `v=DKIM1; k=rsa; p=${dkimPublicKey.toString('base64')}`;
const SPF = 'v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all';
const DMARC = 'v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com';
const BIG_TXT = Array.from({ length: 6 }, (_, i) => `verification-${i}=${'a'.repeat(200)}`); // ~1.3 KB of answers

const zone: ZoneData = {
  'example.com': [
    { type: 'MX', exchange: 'mx1.example.com', priority: 10 },
    { type: 'MX', exchange: 'mx2.example.com', priority: 20 },
    { type: 'TXT', data: SPF },
    { type: 'TXT', data: 'site-verification=abc123' },
    { type: 'A', address: '192.0.2.1' },
    { type: 'AAAA', address: '2001:db8::1' },
    { type: 'NS', target: 'ns1.example.com' },
  ],
  'mx1.example.com': [{ type: 'A', address: '192.0.2.10' }],
  'mx2.example.com': [{ type: 'A', address: '192.0.2.20' }, { type: 'AAAA', address: '2001:db8:0:0:1:0:0:20' }],
  '_dmarc.example.com': [{ type: 'TXT', data: DMARC }],
  'sel2048._domainkey.example.com': [{ type: 'TXT', data: DKIM_2048 }],
  'strings._domainkey.example.com': [{ type: 'TXT', data: ['v=DKIM1; k=ed25519; ', 'p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='] }],
  'provider._domainkey.example.com': [{ type: 'CNAME', target: 'sel2048._domainkey.example.com' }],
  'www.example.com': [{ type: 'CNAME', target: 'web.example.com' }],
  'web.example.com': [{ type: 'CNAME', target: 'host.example.net.' }],
  'host.example.net': [{ type: 'A', address: '198.51.100.7' }],
  'dangling.example.com': [{ type: 'CNAME', target: 'missing.example.com' }],
  'Mixed.Case.Example.COM.': [{ type: 'A', address: '192.0.2.99' }],
  '1.0.0.127.in-addr.arpa': [{ type: 'PTR', target: 'localhost.example.com' }],
  '10.2.0.192.in-addr.arpa': [{ type: 'PTR', target: 'mx1.example.com' }],
  [reverseName('2001:db8::1')]: [{ type: 'PTR', target: 'example.com' }],
  '_submission._tcp.example.com': [{ type: 'SRV', priority: 0, weight: 1, port: 587, target: 'mail.example.com' }],
  'big.example.com': BIG_TXT.map((data) => ({ type: 'TXT' as const, data })),
  'mapped.example.com': [{ type: 'AAAA', address: '::ffff:192.0.2.5' }],
};

let server: TestDnsServer;
let resolver: dns.Resolver;

beforeAll(async () => {
  server = await startDnsServer(zone);
  resolver = new dns.Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([server.address]);
});

afterAll(async () => {
  resolver.cancel();
  await server.close();
});

describe('test DNS server answering node:dns', () => {
  it('listens on 127.0.0.1 and gives its address in POSTFACH_DNS_SERVERS form', () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.address).toBe(`127.0.0.1:${server.port}`);
  });

  it('answers MX lookups', async () => {
    const exchanges = await resolver.resolveMx('example.com');
    expect(exchanges.sort((a, b) => a.priority - b.priority)).toEqual([
      { exchange: 'mx1.example.com', priority: 10 },
      { exchange: 'mx2.example.com', priority: 20 },
    ]);
  });

  it('answers SPF and DMARC TXT lookups, one entry per record', async () => {
    const records = (await resolver.resolveTxt('example.com')).map((chunks) => chunks.join(''));
    expect(records.sort()).toEqual([SPF, 'site-verification=abc123'].sort());
    expect(await resolver.resolveTxt('_dmarc.example.com')).toEqual([[DMARC]]);
  });

  it('splits a 2048-bit DKIM key record into 255-byte character-strings that join back to the record', async () => {
    expect(DKIM_2048.length).toBeGreaterThan(400);
    const [chunks, ...others] = await resolver.resolveTxt('sel2048._domainkey.example.com');
    expect(others).toEqual([]);
    expect(chunks!.map((chunk) => chunk.length)).toEqual([255, DKIM_2048.length - 255]);
    expect(chunks!.join('')).toBe(DKIM_2048);
  });

  it('keeps the character-string boundaries of a TXT record given as several strings', async () => {
    expect(await resolver.resolveTxt('strings._domainkey.example.com')).toEqual([
      ['v=DKIM1; k=ed25519; ', 'p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='],
    ]);
  });

  it('sets TC on a UDP answer over 512 bytes so the resolver retries over TCP', async () => {
    const records = (await resolver.resolveTxt('big.example.com')).map((chunks) => chunks.join(''));
    expect(records.sort()).toEqual([...BIG_TXT].sort());
    const transports = server.queries.filter((q) => q.name === 'big.example.com').map((q) => q.transport);
    expect(transports).toEqual(['udp', 'tcp']);
  });

  it('answers A and AAAA lookups', async () => {
    expect(await resolver.resolve4('mx2.example.com')).toEqual(['192.0.2.20']);
    expect(await resolver.resolve6('mx2.example.com')).toEqual(['2001:db8::1:0:0:20']);
    expect(await resolver.resolve6('example.com')).toEqual(['2001:db8::1']);
    expect(await resolver.resolve6('mapped.example.com')).toEqual(['::ffff:192.0.2.5']);
  });

  it('answers PTR lookups for IPv4 and IPv6 addresses', async () => {
    expect(reverseName('127.0.0.1')).toBe('1.0.0.127.in-addr.arpa');
    expect(reverseName('2001:db8::1')).toBe(`1.0.0.0.${'0.'.repeat(20)}8.b.d.0.1.0.0.2.ip6.arpa`);
    expect(await resolver.resolvePtr('1.0.0.127.in-addr.arpa')).toEqual(['localhost.example.com']);
    // reverse() consults /etc/hosts before DNS, so loopback addresses never reach the server: use TEST-NET ones.
    expect(await resolver.reverse('192.0.2.10')).toEqual(['mx1.example.com']);
    expect(await resolver.reverse('2001:db8::1')).toEqual(['example.com']);
  });

  it('answers CNAME lookups and follows CNAME chains for other types', async () => {
    expect(await resolver.resolveCname('www.example.com')).toEqual(['web.example.com']);
    expect(await resolver.resolve4('www.example.com')).toEqual(['198.51.100.7']);
    expect(await resolver.resolveTxt('provider._domainkey.example.com')).toEqual(await resolver.resolveTxt('sel2048._domainkey.example.com'));
  });

  it('answers SRV and NS lookups', async () => {
    expect(await resolver.resolveSrv('_submission._tcp.example.com')).toEqual([
      { name: 'mail.example.com', port: 587, priority: 0, weight: 1 },
    ]);
    expect(await resolver.resolveNs('example.com')).toEqual(['ns1.example.com']);
  });

  it('matches names case-insensitively, with or without a trailing dot', async () => {
    expect(await resolver.resolve4('MX1.Example.Com')).toEqual(['192.0.2.10']);
    expect(await resolver.resolve4('mixed.case.example.com')).toEqual(['192.0.2.99']);
    expect(await resolver.resolve4('mx1.example.com.')).toEqual(['192.0.2.10']);
  });

  it('answers NXDOMAIN (ENOTFOUND) for names that do not exist, including a dangling CNAME target', async () => {
    await expect(resolver.resolve4('nowhere.example.org')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolver.resolveTxt('_dmarc.nowhere.example.com')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolver.resolve4('dangling.example.com')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('answers NODATA (ENODATA) for existing names without the asked type, and for empty non-terminals', async () => {
    await expect(resolver.resolve6('mx1.example.com')).rejects.toMatchObject({ code: 'ENODATA' });
    await expect(resolver.resolveMx('_dmarc.example.com')).rejects.toMatchObject({ code: 'ENODATA' });
    await expect(resolver.resolveTxt('_domainkey.example.com')).rejects.toMatchObject({ code: 'ENODATA' });
    await expect(resolver.resolve4('example.net')).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it('answers SERVFAIL (ESERVFAIL) for a name while toggled on, normally once toggled off', async () => {
    server.servfail('_DMARC.example.com.', true);
    try {
      await expect(resolver.resolveTxt('_dmarc.example.com')).rejects.toMatchObject({ code: 'ESERVFAIL' });
      expect(await resolver.resolveTxt('sel2048._domainkey.example.com')).toHaveLength(1);
    } finally {
      server.servfail('_dmarc.example.com', false);
    }
    expect(await resolver.resolveTxt('_dmarc.example.com')).toEqual([[DMARC]]);
  });

  it('answers SERVFAIL when a CNAME chain leads to a failing name', async () => {
    server.servfail('sel2048._domainkey.example.com', true);
    try {
      await expect(resolver.resolveTxt('provider._domainkey.example.com')).rejects.toMatchObject({ code: 'ESERVFAIL' });
    } finally {
      server.servfail('sel2048._domainkey.example.com', false);
    }
  });

  it('answers a CNAME whose target lacks the asked type with the CNAME alone, which c-ares returns as []', async () => {
    expect(await resolver.resolve4('provider._domainkey.example.com')).toEqual([]);
  });

  it('replaces and removes records at run time', async () => {
    await expect(resolver.resolveTxt('_dmarc.runtime.example.com')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    server.set('_dmarc.runtime.example.com', [{ type: 'TXT', data: 'v=DMARC1; p=none' }]);
    expect(await resolver.resolveTxt('_dmarc.runtime.example.com')).toEqual([['v=DMARC1; p=none']]);
    server.set('_DMARC.runtime.example.com', [{ type: 'TXT', data: 'v=DMARC1; p=quarantine' }]);
    expect(await resolver.resolveTxt('_dmarc.runtime.example.com')).toEqual([['v=DMARC1; p=quarantine']]);
    server.remove('_dmarc.runtime.example.com.');
    await expect(resolver.resolveTxt('_dmarc.runtime.example.com')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('logs each query it receives', async () => {
    await resolver.resolveMx('Example.COM');
    expect(server.queries.at(-1)).toEqual({ name: 'example.com', type: 'MX', transport: 'udp' });
  });

  it('rejects zone data that could not go on the wire', async () => {
    expect(() => server.set('bad.example.com', [{ type: 'A', address: '192.0.2.300' }])).toThrow(/IPv4/);
    expect(() => server.set('bad.example.com', [{ type: 'AAAA', address: '2001:db8::g' }])).toThrow(/IPv6/);
    expect(() => server.set('bad.example.com', [{ type: 'MX', exchange: 'mx.example.com', priority: 70000 }])).toThrow(/priority/);
    expect(() => server.set(`${'a'.repeat(64)}.example.com`, [])).toThrow(/63 octets/);
    expect(() =>
      server.set('bad.example.com', [
        { type: 'CNAME', target: 'example.com' },
        { type: 'A', address: '192.0.2.1' },
      ]),
    ).toThrow(/CNAME/);
    await expect(resolver.resolve4('bad.example.com')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe('test DNS server on the wire', () => {
  it('answers authoritatively, echoing id and question, without recursion available', async () => {
    const response = Packet.parse(await udpExchange(server.port, rawQuery(0x1234, 'MX1.example.com', 1)));
    expect(response.header).toMatchObject({ id: 0x1234, qr: 1, aa: 1, tc: 0, rd: 1, ra: 0, rcode: 0 });
    expect(response.questions).toMatchObject([{ name: 'MX1.example.com', type: 1, class: 1 }]);
    expect(response.answers).toMatchObject([{ name: 'MX1.example.com', type: 1, address: '192.0.2.10', ttl: 0 }]);
  });

  it('answers NXDOMAIN authoritatively with an empty answer section', async () => {
    const response = Packet.parse(await udpExchange(server.port, rawQuery(7, 'nowhere.example.org', 16)));
    expect(response.header).toMatchObject({ aa: 1, rcode: 3, ancount: 0 });
  });

  it('truncates a UDP answer over 512 bytes to header and question with TC set', async () => {
    const message = await udpExchange(server.port, rawQuery(8, 'big.example.com', 16));
    expect(message.length).toBeLessThanOrEqual(512);
    const response = Packet.parse(message);
    expect(response.header).toMatchObject({ tc: 1, aa: 1, rcode: 0, qdcount: 1, ancount: 0 });
  });

  it('sends the whole answer over UDP when EDNS0 allows a larger payload, and returns an OPT record', async () => {
    const message = await udpExchange(server.port, rawQuery(9, 'big.example.com', 16, 4096));
    expect(message.length).toBeGreaterThan(512);
    const response = Packet.parse(message);
    expect(response.header).toMatchObject({ tc: 0, ancount: BIG_TXT.length, arcount: 1 });
    expect(response.additionals).toMatchObject([{ type: 41, class: 1232 }]);
  });

  it('answers BADVERS to an EDNS version it does not speak (RFC 6891 §6.1.3)', async () => {
    const query = rawQuery(10, 'example.com', 1, 1232);
    query[query.length - 5] = 1; // OPT TTL byte 2: EDNS version
    const response = Packet.parse(await udpExchange(server.port, query));
    expect(response.header.rcode).toBe(16);
  });

  it('answers FORMERR to a query whose question runs past the message', async () => {
    const query = rawQuery(11, 'example.com', 1).subarray(0, 20);
    const response = Packet.parse(await udpExchange(server.port, query));
    expect(response.header).toMatchObject({ id: 11, rcode: 1, qdcount: 0 });
  });

  it('reads length-prefixed queries over TCP, pipelined and split across segments (RFC 7766)', async () => {
    const frames = Buffer.concat([frame(rawQuery(21, 'big.example.com', 16)), frame(rawQuery(22, '_dmarc.example.com', 16))]);
    const responses = await tcpExchange(server.port, frames, 2);
    expect(responses.map((m) => Packet.parse(m).header)).toMatchObject([
      { id: 21, tc: 0, ancount: BIG_TXT.length },
      { id: 22, tc: 0, ancount: 1 },
    ]);
  });

  it('closes promptly while a client still holds a TCP connection open', async () => {
    const own = await startDnsServer({ 'example.com': [{ type: 'A', address: '192.0.2.1' }] });
    const socket = net.connect(own.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await own.close();
    await closed;
    await own.close(); // idempotent
  });
});

function rawQuery(id: number, name: string, type: number, ednsUdpSize?: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(ednsUdpSize ? 1 : 0, 10);
  const labels = name.split('.').map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)]));
  const question = Buffer.concat([...labels, Buffer.from([0, type >> 8, type & 0xff, 0, 1])]);
  const opt = ednsUdpSize ? Buffer.from([0, 0, 41, ednsUdpSize >> 8, ednsUdpSize & 0xff, 0, 0, 0, 0, 0, 0]) : Buffer.alloc(0);
  return Buffer.concat([header, question, opt]);
}

function frame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(message.length);
  return Buffer.concat([prefix, message]);
}

async function udpExchange(port: number, query: Buffer): Promise<Buffer> {
  const socket = dgram.createSocket('udp4');
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no UDP answer within 2 s')), 2000);
      socket.once('message', (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      socket.send(query, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

async function tcpExchange(port: number, bytes: Buffer, expected: number): Promise<Buffer[]> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  try {
    return await new Promise<Buffer[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no TCP answers within 2 s')), 2000);
      const messages: Buffer[] = [];
      let pending: Buffer = Buffer.alloc(0);
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          messages.push(pending.subarray(2, 2 + pending.readUInt16BE(0)));
          pending = pending.subarray(2 + pending.readUInt16BE(0));
        }
        if (messages.length === expected) {
          clearTimeout(timer);
          resolve(messages);
        }
      });
      socket.once('connect', async () => {
        // Send seven bytes at a time (many segments) so framing cannot rely on one query per read.
        for (let at = 0; at < bytes.length; at += 7) {
          socket.write(bytes.subarray(at, at + 7));
          await new Promise((pause) => setImmediate(pause));
        }
      });
    });
  } finally {
    socket.destroy();
  }
}
