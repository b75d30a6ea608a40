// Threat: deeply nested input that would make a recursive parser or evaluator overflow its stack or allocate per
// level: 100,000 nested parentheses in FETCH and SEARCH (in one line, and spread over LITERAL+ continuation lines so
// no line is over the limit), and SEARCH keys that nest without parentheses (NOT NOT …, OR OR …). Each must end in
// BAD with the exact reason (or, for a line over the line limit, in BYE), with the server's memory flat and the
// session, where it survives, still working. A parser or evaluator that recursed per level would overflow its stack
// (a different reply or none); one that did quadratic work per level would run past the test's timeout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapWire } from '../helpers/imap-wire.js';
import { storeMail, textMail } from '../helpers/mail-store.js';
import { PASSWORD, provision, startServer, type TestServer } from '../helpers/server.js';

const DEPTH = 100_000;

let server: TestServer;
let port: number;
const open: ImapWire[] = [];

beforeAll(async () => {
  server = await startServer({ overrides: { 'imap.port': 0 } });
  port = server.ports.imap!;
  await provision(server, 'firma.de', ['info', 'buchhaltung']);
  await storeMail(server, 'info@firma.de', textMail('Eins'));
});

afterAll(async () => {
  for (const wire of open) wire.close();
  await server?.close();
});

async function selected(): Promise<ImapWire> {
  const wire = await ImapWire.connect(port);
  open.push(wire);
  expect((await wire.command('L', `LOGIN info@firma.de ${PASSWORD}`)).tagged).toMatch(/^L OK /);
  expect((await wire.command('S', 'SELECT INBOX')).tagged).toBe('S OK [READ-WRITE] SELECT completed');
  return wire;
}

/** Runs fn, asserting that resident memory (the server runs in this process) grew by less than maxGrowth bytes. */
async function flatMemory<T>(fn: () => Promise<T>, maxGrowth = 64 * 1024 * 1024): Promise<T> {
  const rss = process.memoryUsage().rss;
  const result = await fn();
  expect(process.memoryUsage().rss - rss).toBeLessThan(maxGrowth);
  return result;
}

async function stillWorks(wire: ImapWire): Promise<void> {
  expect((await wire.command('z', 'FETCH 1 UID')).lines).toEqual(['* 1 FETCH (UID 1)', 'z OK FETCH completed']);
}

describe('nested parentheses', () => {
  it('SEARCH with 30,000 nested parentheses in one line: BAD, session alive', async () => {
    const wire = await selected();
    const reply = await flatMemory(() => wire.command('n1', `SEARCH ${'('.repeat(30_000)}ALL${')'.repeat(30_000)}`));
    expect(reply.lines).toEqual(['n1 BAD Too deeply nested']);
    await stillWorks(wire);
  });

  it('FETCH with 30,000 nested parentheses in its item list: BAD, session alive', async () => {
    const wire = await selected();
    const reply = await flatMemory(() => wire.command('n2', `FETCH 1 ${'('.repeat(30_000)}UID${')'.repeat(30_000)}`));
    expect(reply.lines).toEqual(['n2 BAD Too deeply nested']);
    await stillWorks(wire);
  });

  it('sections count as nesting too: BODY[HEADER.FIELDS ((((…', async () => {
    const wire = await selected();
    const reply = await wire.command('n3', `FETCH 1 BODY.PEEK[HEADER.FIELDS ${'('.repeat(20_000)}SUBJECT${')'.repeat(20_000)}]`);
    expect(reply.lines).toEqual(['n3 BAD Too deeply nested']);
    await stillWorks(wire);
  });

  it(`${DEPTH.toLocaleString('en')} nested parentheses across LITERAL+ lines (each under the line limit): one BAD, session alive`, async () => {
    const wire = await selected();
    const per = 20_000;
    const lines: string[] = [];
    for (let done = 0; done < DEPTH; done += per) lines.push(`${'('.repeat(per)} {1+}\r\nx `);
    for (let done = 0; done < DEPTH; done += per) lines.push(`${')'.repeat(per)}${done + per < DEPTH ? ' {1+}\r\nx ' : ''}`);
    const reply = await flatMemory(() => wire.command('n4', `SEARCH ${lines.join('')}`));
    expect(reply.lines).toEqual(['n4 BAD Too deeply nested']);
    await stillWorks(wire);
  });

  it(`${DEPTH.toLocaleString('en')} nested parentheses in one line (200 KB): over the line limit, so BAD and BYE; other sessions unaffected`, async () => {
    const wire = await selected();
    const other = await selected();
    await flatMemory(async () => {
      wire.write(`n5 SEARCH ${'('.repeat(DEPTH)}ALL${')'.repeat(DEPTH)}\r\n`);
      expect(await wire.readLine()).toBe('n5 BAD Line too long');
      expect(await wire.readLine()).toBe('* BYE Line too long');
      await wire.closedByServer(3000);
    });
    await stillWorks(other);
  });

  it('a flood of sibling lists (values, not depth) in SEARCH is bounded too', async () => {
    const wire = await selected();
    const reply = await flatMemory(() => wire.command('n6', `SEARCH ${'(ALL) '.repeat(10_000)}`));
    expect(reply.lines).toEqual(['n6 BAD Too many search keys']);
    await stillWorks(wire);
  });
});

describe('SEARCH keys nested without parentheses', () => {
  it('NOT NOT NOT … (15,000 deep): BAD, session alive', async () => {
    const wire = await selected();
    const reply = await flatMemory(() => wire.command('k1', `SEARCH ${'NOT '.repeat(15_000)}ALL`));
    expect(reply.lines).toEqual(['k1 BAD Search keys nested too deeply']);
    await stillWorks(wire);
  });

  it('OR OR OR … (7,000 deep): BAD, session alive', async () => {
    const wire = await selected();
    const reply = await flatMemory(() => wire.command('k2', `SEARCH ${'OR '.repeat(7_000)}${'ALL '.repeat(7_001)}`));
    expect(reply.lines).toEqual(['k2 BAD Search keys nested too deeply']);
    await stillWorks(wire);
  });

  it('a chain a real client sends (OR over 20 addresses) still works', async () => {
    const wire = await selected();
    const addresses = Array.from({ length: 20 }, (_, i) => `FROM kunde${i}@example.com`);
    const reply = await wire.command('k3', `SEARCH ${'OR '.repeat(19)}${addresses.join(' ')}`);
    expect(reply.lines).toEqual(['* SEARCH', 'k3 OK SEARCH completed']);
    const match = await wire.command('k4', `SEARCH OR OR FROM nobody@example.com FROM kunde@example.com SUBJECT Zwei`);
    expect(match.lines).toEqual(['* SEARCH 1', 'k4 OK SEARCH completed']);
  });
});
