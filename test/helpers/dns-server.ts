// Test DNS server: authoritative answers from in-memory zone data over UDP and TCP on 127.0.0.1 (RFC 1035, RFC 7766, RFC 6891).
import dgram from 'node:dgram';
import net from 'node:net';

/** One resource record of a zone name. `ttl` defaults to 0 so changes made with set() are seen at once. */
export type ZoneRecord = (
  | { type: 'A'; address: string }
  | { type: 'AAAA'; address: string }
  | { type: 'MX'; exchange: string; priority: number }
  | { type: 'TXT'; data: string | string[] } // each string is split into <=255-byte character-strings
  | { type: 'CNAME'; target: string }
  | { type: 'PTR'; target: string }
  | { type: 'SRV'; priority: number; weight: number; port: number; target: string }
  | { type: 'NS'; target: string }
) & { ttl?: number };

/** Records by owner name; names are case-insensitive and need no trailing dot. */
export interface ZoneData {
  [name: string]: ZoneRecord[];
}

export interface TestDnsServer {
  host: string;
  port: number;
  /** "127.0.0.1:port", the form POSTFACH_DNS_SERVERS and Resolver#setServers take. */
  address: string;
  set(name: string, records: ZoneRecord[]): void;
  remove(name: string): void;
  servfail(name: string, on: boolean): void;
  /** Every query received, oldest first; names lower-cased without trailing dot. */
  queries: Array<{ name: string; type: string; transport: 'udp' | 'tcp' }>;
  close(): Promise<void>;
}

const TYPE_CODE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 };
const TYPE_NAME = new Map<number, string>([
  ...Object.entries(TYPE_CODE).map(([name, code]): [number, string] => [code, name]),
  [43, 'DS'], [46, 'RRSIG'], [48, 'DNSKEY'], [52, 'TLSA'], [64, 'SVCB'], [65, 'HTTPS'], [99, 'SPF'], [257, 'CAA'],
]);
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 };
const CLASS_IN = 1;
const CLASS_ANY = 255;

const UDP_PLAIN_LIMIT = 512; // RFC 1035 §4.2.1: UDP messages without EDNS0 carry at most 512 bytes
const MAX_MESSAGE = 65535; // RFC 1035 §4.2.2: the TCP length prefix is 16 bits
const ADVERTISED_UDP_SIZE = 1232; // RFC 6891 §6.2.5; 1232 avoids IP fragmentation (DNS flag day 2020)
const MAX_CNAME_HOPS = 8; // guards against CNAME loops in the zone
const MAX_CHARACTER_STRING = 255; // RFC 1035 §3.3: <character-string> has a one-byte length

/** Starts an authoritative DNS server for `zone` on 127.0.0.1, one port for both UDP and TCP. */
export async function startDnsServer(zone: ZoneData): Promise<TestDnsServer> {
  const records = new Map<string, ZoneRecord[]>();
  const servfailNames = new Set<string>();
  const queries: TestDnsServer['queries'] = [];
  const set = (name: string, list: ZoneRecord[]): void => {
    const owner = normalizeName(name);
    list.forEach((record) => validateRecord(owner, record));
    if (list.some((r) => r.type === 'CNAME') && list.length > 1) {
      throw new Error(`${owner}: a CNAME cannot coexist with other records (RFC 1034 §3.6.2)`);
    }
    records.set(owner, list.map((record) => ({ ...record })));
  };
  for (const [name, list] of Object.entries(zone)) set(name, list);

  const answer = (message: Buffer, transport: 'udp' | 'tcp'): Buffer | null => {
    try {
      return answerQuery(message, transport);
    } catch (error) {
      console.error('test DNS server failed to answer a query', error); // a bug here; the resolver times out
      return null;
    }
  };
  const answerQuery = (message: Buffer, transport: 'udp' | 'tcp'): Buffer | null => {
    const query = parseQuery(message);
    if (!query) return null;
    if (query.question) {
      queries.push({ name: query.question.name.toLowerCase(), type: typeName(query.question.type), transport });
    }
    const outcome = resolveQuestion(query, records, servfailNames);
    // RFC 6891 §6.2.3: a requestor's advertised size below 512 is treated as 512.
    const limit = transport === 'tcp' ? MAX_MESSAGE : Math.max(UDP_PLAIN_LIMIT, Math.min(query.edns?.udpSize ?? 0, MAX_MESSAGE));
    return encodeResponse(query, outcome, limit);
  };

  const sockets = new Set<net.Socket>();
  const { udp, tcp, port } = await bindBoth(
    (message, peer, socket) => {
      const response = answer(message, 'udp');
      if (response) socket.send(response, peer.port, peer.address);
    },
    (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      let pending: Buffer = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        // RFC 1035 §4.2.2 / RFC 7766 §6.2.1: two-byte length prefix, several messages per connection.
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          const length = pending.readUInt16BE(0);
          const response = answer(pending.subarray(2, 2 + length), 'tcp');
          pending = pending.subarray(2 + length);
          if (response && socket.writable) {
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(response.length);
            socket.write(Buffer.concat([prefix, response]));
          }
        }
      });
    },
  );

  let closing: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    set,
    remove: (name) => void records.delete(normalizeName(name)),
    servfail: (name, on) => void (on ? servfailNames.add(normalizeName(name)) : servfailNames.delete(normalizeName(name))),
    queries,
    close: () =>
      (closing ??= Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => {
          tcp.close(() => resolve());
          for (const socket of sockets) socket.destroy(); // resolvers keep TCP connections open
        }),
      ]).then(() => undefined)),
  };
}

/** The name a PTR record for `address` lives at: 1.0.0.127.in-addr.arpa or the ip6.arpa nibble form (RFC 3596 §2.5). */
export function reverseName(address: string): string {
  if (net.isIPv4(address)) return `${address.split('.').reverse().join('.')}.in-addr.arpa`;
  const nibbles = [...ipv6Bytes(address)].flatMap((byte) => [byte >> 4, byte & 0xf]);
  return `${nibbles.reverse().map((n) => n.toString(16)).join('.')}.ip6.arpa`;
}

async function bindBoth(
  onDatagram: (message: Buffer, peer: dgram.RemoteInfo, socket: dgram.Socket) => void,
  onConnection: (socket: net.Socket) => void,
): Promise<{ udp: dgram.Socket; tcp: net.Server; port: number }> {
  // Take a free TCP port, then claim the same number for UDP; retry when that UDP port is taken.
  for (let attempt = 0; attempt < 20; attempt++) {
    const tcp = net.createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (tcp.address() as net.AddressInfo).port;
    const udp = dgram.createSocket('udp4');
    const bound = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) {
      udp.on('error', () => undefined); // e.g. ICMP port unreachable from a resolver that gave up
      udp.on('message', (message, peer) => onDatagram(message, peer, udp));
      return { udp, tcp, port };
    }
    udp.close();
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
  }
  throw new Error('no port free for both UDP and TCP on 127.0.0.1');
}

// ---- zone data -------------------------------------------------------------------------------

function normalizeName(name: string): string {
  const trimmed = name.trim().toLowerCase();
  const owner = trimmed.endsWith('.') ? trimmed.slice(0, -1) : trimmed;
  validateName(owner);
  return owner;
}

function validateName(name: string): void {
  if (name === '') return; // the root
  const labels = name.split('.');
  // RFC 1035 §2.3.4: labels 1..63 octets, whole name at most 255 octets on the wire.
  if (labels.some((label) => label.length === 0 || Buffer.byteLength(label) > 63)) {
    throw new Error(`invalid DNS name "${name}": empty label or label over 63 octets`);
  }
  if (labels.reduce((sum, label) => sum + Buffer.byteLength(label) + 1, 1) > 255) {
    throw new Error(`invalid DNS name "${name}": longer than 255 octets`);
  }
}

function validateRecord(owner: string, record: ZoneRecord): void {
  const u16 = (value: number, field: string) => {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new Error(`${owner} ${record.type}: ${field} must be 0..65535`);
  };
  if (record.ttl !== undefined && (!Number.isInteger(record.ttl) || record.ttl < 0 || record.ttl > 0x7fffffff)) {
    throw new Error(`${owner} ${record.type}: ttl must be 0..2147483647 (RFC 2181 §8)`);
  }
  switch (record.type) {
    case 'A':
      if (!net.isIPv4(record.address)) throw new Error(`${owner} A: "${record.address}" is not an IPv4 address`);
      return;
    case 'AAAA':
      ipv6Bytes(record.address);
      return;
    case 'MX':
      u16(record.priority, 'priority');
      return validateName(normalizeTarget(record.exchange));
    case 'SRV':
      u16(record.priority, 'priority');
      u16(record.weight, 'weight');
      u16(record.port, 'port');
      return validateName(normalizeTarget(record.target));
    case 'CNAME':
    case 'PTR':
    case 'NS':
      return validateName(normalizeTarget(record.target));
    case 'TXT':
      if (typeof record.data !== 'string' && !(Array.isArray(record.data) && record.data.every((s) => typeof s === 'string'))) {
        throw new Error(`${owner} TXT: data must be a string or an array of strings`);
      }
      return;
    default:
      throw new Error(`${owner}: unsupported record type ${(record as { type: string }).type}`);
  }
}

function normalizeTarget(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function ipv6Bytes(address: string): Buffer {
  if (!net.isIPv6(address) || address.includes('%')) throw new Error(`"${address}" is not an IPv6 address`);
  const groups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)];
          const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number]; // embedded IPv4, RFC 4291 §2.2
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = address.split('::');
  const before = groups(head);
  const after = tail === undefined ? [] : groups(tail);
  const all = [...before, ...new Array<number>(8 - before.length - after.length).fill(0), ...after];
  const bytes = Buffer.alloc(16);
  all.forEach((group, i) => bytes.writeUInt16BE(group, i * 2));
  return bytes;
}

// ---- queries and answers ---------------------------------------------------------------------

interface Question {
  name: string; // as sent, case preserved (echoed back in the answer)
  type: number;
  class: number;
}

interface ParsedQuery {
  id: number;
  opcode: number;
  recursionDesired: boolean;
  question: Question | null;
  edns: { udpSize: number; version: number } | null;
  malformed: boolean;
}

interface Outcome {
  rcode: number;
  answers: Array<{ owner: string; record: ZoneRecord }>;
}

function typeName(code: number): string {
  return TYPE_NAME.get(code) ?? `TYPE${code}`; // RFC 3597 §5 notation for unknown types
}

function resolveQuestion(query: ParsedQuery, records: Map<string, ZoneRecord[]>, servfailNames: Set<string>): Outcome {
  const none = (rcode: number): Outcome => ({ rcode, answers: [] });
  if (query.malformed || !query.question) return none(RCODE.FORMERR);
  if (query.edns && query.edns.version !== 0) return none(RCODE.BADVERS); // RFC 6891 §6.1.3
  if (query.opcode !== 0) return none(RCODE.NOTIMP);
  const { question } = query;
  if (question.class !== CLASS_IN && question.class !== CLASS_ANY) return none(RCODE.REFUSED);

  const answers: Outcome['answers'] = [];
  let owner = question.name;
  for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    const key = owner.toLowerCase();
    if (servfailNames.has(key)) return none(RCODE.SERVFAIL);
    const list = records.get(key) ?? [];
    if (list.length === 0) {
      // RFC 6604 §2.1: after a CNAME the RCODE describes the last name in the chain.
      const exists = [...records].some(([name, rrs]) => rrs.length > 0 && (key === '' || name === key || name.endsWith(`.${key}`)));
      return { rcode: exists ? RCODE.NOERROR : RCODE.NXDOMAIN, answers };
    }
    const cname = list.find((r) => r.type === 'CNAME');
    if (cname && cname.type === 'CNAME' && question.type !== TYPE_CODE.CNAME && question.type !== TYPE_CODE.ANY) {
      answers.push({ owner, record: cname }); // RFC 1034 §3.6.2: restart the lookup at the canonical name
      owner = normalizeTarget(cname.target);
      continue;
    }
    const matching = list.filter((r) => question.type === TYPE_CODE.ANY || TYPE_CODE[r.type] === question.type);
    answers.push(...matching.map((record) => ({ owner, record })));
    return { rcode: RCODE.NOERROR, answers };
  }
  return none(RCODE.SERVFAIL); // CNAME loop or chain too long
}

class WireFormatError extends Error {}

function parseQuery(message: Buffer): ParsedQuery | null {
  if (message.length < 12 || message[2]! & 0x80) return null; // too short for a header, or a response (QR=1)
  const query: ParsedQuery = {
    id: message.readUInt16BE(0),
    opcode: (message[2]! >> 3) & 0xf,
    recursionDesired: (message[2]! & 0x01) !== 0,
    question: null,
    edns: null,
    malformed: false,
  };
  try {
    const [qdcount, ancount, nscount, arcount] = [4, 6, 8, 10].map((at) => message.readUInt16BE(at)) as [number, number, number, number];
    if (qdcount !== 1) throw new WireFormatError('a query carries exactly one question');
    const { name, end } = readName(message, 12);
    if (end + 4 > message.length) throw new WireFormatError('question runs past end of message');
    query.question = { name, type: message.readUInt16BE(end), class: message.readUInt16BE(end + 2) };
    let offset = end + 4;
    for (let i = 0; i < ancount + nscount + arcount; i++) {
      const rr = readName(message, offset);
      if (rr.end + 10 > message.length) throw new WireFormatError('record runs past end of message');
      const type = message.readUInt16BE(rr.end);
      const rdlength = message.readUInt16BE(rr.end + 8);
      if (i >= ancount + nscount && type === TYPE_CODE.OPT) {
        // RFC 6891 §6.1.2: CLASS is the requestor's UDP payload size, TTL bits 16..23 the EDNS version.
        query.edns = { udpSize: message.readUInt16BE(rr.end + 2), version: message[rr.end + 5]! };
      }
      offset = rr.end + 10 + rdlength;
      if (offset > message.length) throw new WireFormatError('rdata runs past end of message');
    }
  } catch (error) {
    if (!(error instanceof WireFormatError)) throw error;
    query.malformed = true;
  }
  return query;
}

function readName(message: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let offset = start;
  let end = -1;
  let octets = 1;
  for (let jumps = 0; ; ) {
    if (offset >= message.length) throw new WireFormatError('name runs past end of message');
    const length = message[offset]!;
    if (length === 0) break;
    if ((length & 0xc0) === 0xc0) {
      // RFC 1035 §4.1.4 compression pointer
      if (offset + 1 >= message.length || ++jumps > 64) throw new WireFormatError('bad compression pointer');
      if (end < 0) end = offset + 2;
      offset = ((length & 0x3f) << 8) | message[offset + 1]!;
      continue;
    }
    if (length & 0xc0) throw new WireFormatError('reserved label type');
    octets += length + 1;
    if (offset + 1 + length > message.length || octets > 255) throw new WireFormatError('label too long');
    labels.push(message.toString('utf8', offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
  return { name: labels.join('.'), end: end < 0 ? offset + 1 : end };
}

class MessageTooLong extends Error {}

class MessageWriter {
  private readonly buffer = Buffer.alloc(MAX_MESSAGE);
  private readonly nameOffsets = new Map<string, number>();
  length = 0;

  private reserve(bytes: number): number {
    if (this.length + bytes > MAX_MESSAGE) throw new MessageTooLong();
    const at = this.length;
    this.length += bytes;
    return at;
  }
  u8(value: number): void { this.buffer.writeUInt8(value, this.reserve(1)); }
  u16(value: number): void { this.buffer.writeUInt16BE(value, this.reserve(2)); }
  u32(value: number): void { this.buffer.writeUInt32BE(value >>> 0, this.reserve(4)); }
  bytes(value: Buffer): void { value.copy(this.buffer, this.reserve(value.length)); }
  patchU16(at: number, value: number): void { this.buffer.writeUInt16BE(value, at); }

  /** Writes a domain name; `compress` false for names RFC 3597 §4 forbids compressing (e.g. the SRV target). */
  name(name: string, compress: boolean): void {
    const labels = normalizeTarget(name).split('.').filter((label) => label !== '');
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.').toLowerCase();
      const known = this.nameOffsets.get(suffix);
      if (compress && known !== undefined) return this.u16(0xc000 | known); // RFC 1035 §4.1.4
      if (this.length < 0x4000 && known === undefined) this.nameOffsets.set(suffix, this.length); // pointers have 14 bits
      const label = Buffer.from(labels[i]!, 'utf8');
      this.u8(label.length);
      this.bytes(label);
    }
    this.u8(0);
  }

  toBuffer(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.length));
  }
}

function encodeResponse(query: ParsedQuery, outcome: Outcome, limit: number): Buffer {
  const full = writeMessage(query, outcome, false);
  if (full && full.length <= limit) return full;
  // RFC 2181 §9: set TC rather than send a partial RRset; the resolver retries over TCP.
  return writeMessage(query, { rcode: outcome.rcode, answers: [] }, true)!;
}

function writeMessage(query: ParsedQuery, outcome: Outcome, truncated: boolean): Buffer | null {
  const w = new MessageWriter();
  const authoritative = outcome.rcode !== RCODE.FORMERR && outcome.rcode !== RCODE.REFUSED && outcome.rcode !== RCODE.NOTIMP;
  w.u16(query.id);
  // QR=1, opcode echoed, AA, TC, RD echoed; RA=0 since this server does not recurse (RFC 1035 §4.1.1).
  w.u8(0x80 | (query.opcode << 3) | (authoritative ? 0x04 : 0) | (truncated ? 0x02 : 0) | (query.recursionDesired ? 0x01 : 0));
  w.u8(outcome.rcode & 0xf);
  const echoQuestion = query.question !== null && !query.malformed;
  w.u16(echoQuestion ? 1 : 0);
  w.u16(outcome.answers.length);
  w.u16(0);
  w.u16(query.edns ? 1 : 0);
  try {
    if (echoQuestion) {
      w.name(query.question!.name, true);
      w.u16(query.question!.type);
      w.u16(query.question!.class);
    }
    for (const { owner, record } of outcome.answers) writeRecord(w, owner, record);
    if (query.edns) {
      // RFC 6891 §7: a responder answers an EDNS query with an OPT record; the TTL carries the RCODE's high bits.
      w.u8(0);
      w.u16(TYPE_CODE.OPT);
      w.u16(ADVERTISED_UDP_SIZE);
      w.u32((outcome.rcode >> 4) << 24);
      w.u16(0);
    }
  } catch (error) {
    if (error instanceof MessageTooLong) return null;
    throw error;
  }
  return w.toBuffer();
}

function writeRecord(w: MessageWriter, owner: string, record: ZoneRecord): void {
  w.name(owner, true);
  w.u16(TYPE_CODE[record.type]);
  w.u16(CLASS_IN);
  w.u32(record.ttl ?? 0);
  const rdlengthAt = w.length;
  w.u16(0);
  switch (record.type) {
    case 'A':
      w.bytes(Buffer.from(record.address.split('.').map(Number)));
      break;
    case 'AAAA':
      w.bytes(ipv6Bytes(record.address));
      break;
    case 'MX':
      w.u16(record.priority);
      w.name(record.exchange, true);
      break;
    case 'TXT':
      // RFC 1035 §3.3.14: TXT-DATA is one or more character-strings.
      for (const text of typeof record.data === 'string' ? [record.data] : record.data.length > 0 ? record.data : ['']) {
        for (const chunk of characterStrings(text)) {
          w.u8(chunk.length);
          w.bytes(chunk);
        }
      }
      break;
    case 'CNAME':
    case 'PTR':
    case 'NS':
      w.name(record.target, true);
      break;
    case 'SRV':
      w.u16(record.priority);
      w.u16(record.weight);
      w.u16(record.port);
      w.name(record.target, false); // RFC 2782: the target is not compressed
      break;
  }
  w.patchU16(rdlengthAt, w.length - rdlengthAt - 2);
}

/** Splits text into <=255-byte character-strings (RFC 1035 §3.3.14), never inside a UTF-8 sequence. */
function characterStrings(text: string): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length === 0) return [bytes];
  const chunks: Buffer[] = [];
  for (let start = 0; start < bytes.length; ) {
    let end = Math.min(start + MAX_CHARACTER_STRING, bytes.length);
    while (end < bytes.length && end > start && (bytes[end]! & 0xc0) === 0x80) end--;
    chunks.push(bytes.subarray(start, end));
    start = end;
  }
  return chunks;
}
