// Tests for IMAP SEARCH in the store (server/store/search.ts) against a real database with ~30 stored messages:
// every key, combinations, the trigram index (substrings, umlauts, FTS syntax injection) and the short-string fallback.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../server/db/connect.js';
import { writeTransaction } from '../../server/db/transaction.js';
import { addAccount } from '../../server/directory/accounts.js';
import { addDomain } from '../../server/directory/domains.js';
import { parseSearchKeys, type SearchKey, type SetResolver } from '../../server/imap/search-keys.js';
import { BlobStore } from '../../server/store/blobs.js';
import { updateFlags, type UidRanges } from '../../server/store/mailbox-messages.js';
import { prepareMessage, storeMessage } from '../../server/store/messages.js';
import { searchMailbox, type SearchResult } from '../../server/store/search.js';
import { actor, PASSWORD, tempDir } from '../helpers/server.js';
import { values } from '../helpers/imap-test-values.js';

interface Fixture {
  name: string;
  headers: string[];
  body: string;
  flags?: string[];
  internal: string;
}

const at = (iso: string) => Date.parse(iso);
const lines = (...l: string[]) => l.join('\r\n');

const FIXTURES: Fixture[] = [
  {
    name: 'plain',
    headers: ['From: Alice Example <alice@example.org>', 'To: Bob <bob@postfach.test>', 'Subject: Quarterly report', 'Date: Thu, 1 Feb 2024 10:00:00 +0000', 'Message-ID: <plain@example.org>'],
    body: lines('The quarterly numbers are attached.', 'Regards'),
    flags: ['\\Seen'],
    internal: '2024-02-01T12:00:00Z'
  },
  {
    name: 'umlaut',
    headers: [
      'From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>',
      'To: max@postfach.test',
      'Subject: =?UTF-8?Q?Gr=C3=B6=C3=9Fe_der_Dateien?=',
      'Date: Fri, 2 Feb 2024 09:00:00 +0100',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit'
    ],
    body: 'Die Größe ist über dem Limit. ÄRGER vorprogrammiert.',
    flags: ['\\Seen', '\\Flagged'],
    internal: '2024-02-02T08:00:00Z'
  },
  {
    name: 'html',
    headers: ['From: news@shop.example', 'To: max@postfach.test', 'Subject: Newsletter', 'Date: Sat, 3 Feb 2024 07:00:00 +0000', 'Content-Type: text/html; charset=utf-8'],
    body: '<html><body><p>Hello <b>World</b> &amp; friends</p><script>hiddenscript()</script></body></html>',
    flags: ['$Junk'],
    internal: '2024-02-03T07:00:01Z'
  },
  {
    name: 'qp',
    headers: ['From: carol@example.net', 'To: max@postfach.test', 'Cc: "Dave" <dave@example.net>', 'Subject: Adresse', 'Date: Sun, 4 Feb 2024 10:00:00 +0000', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable'],
    body: lines('Meine neue Stra=C3=9Fe hei=C3=9Ft Ahornweg=', ' 5'),
    flags: ['\\Answered'],
    internal: '2024-02-04T10:00:00Z'
  },
  {
    name: 'base64',
    headers: ['From: erin@example.com', 'To: max@postfach.test', 'Subject: Encoded', 'Date: Mon, 5 Feb 2024 10:00:00 +0000', 'Content-Transfer-Encoding: base64'],
    body: Buffer.from('Base64 encoded secret: pineapple').toString('base64'),
    flags: ['\\Deleted'],
    internal: '2024-02-05T10:00:00Z'
  },
  {
    name: 'attachment',
    headers: ['From: frank@example.com', 'To: max@postfach.test', 'Bcc: hidden@example.org', 'Subject: Invoice', 'Date: Tue, 6 Feb 2024 10:00:00 +0000', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b1"'],
    body: lines(
      '--b1',
      'Content-Type: text/plain',
      '',
      'See attached file.',
      '--b1',
      'Content-Type: application/pdf; name="x.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('attachmentonlyword').toString('base64'),
      '--b1--',
      ''
    ),
    flags: ['\\Draft'],
    internal: '2024-02-06T10:00:00Z'
  },
  {
    name: 'no-date',
    headers: ['From: gina@example.com', 'To: max@postfach.test', 'Subject: No date'],
    body: 'Sent without a Date field.',
    internal: '2024-03-10T05:00:00Z'
  },
  {
    name: 'sent-offset',
    headers: ['From: hank@example.com', 'To: max@postfach.test', 'Subject: New year', 'Date: Sun, 31 Dec 2023 23:30:00 -0100'],
    body: 'Happy new year.',
    internal: '2024-01-05T10:00:00Z'
  },
  {
    name: 'keywords',
    headers: ['From: ivy@example.com', 'To: max@postfach.test', 'Subject: Keyword holder', 'Date: Wed, 7 Feb 2024 10:00:00 +0000'],
    body: 'Has keywords.',
    flags: ['$Forwarded', 'Work_Item'],
    internal: '2024-02-07T10:00:00Z'
  },
  {
    name: 'keyword-bait',
    headers: ['From: jack@example.com', 'To: max@postfach.test', 'Subject: Keyword bait', 'Date: Wed, 7 Feb 2024 11:00:00 +0000'],
    body: 'Has a keyword that LIKE wildcards would confuse.',
    flags: ['WorkXItem'],
    internal: '2024-02-07T11:00:00Z'
  },
  {
    name: 'quotes',
    headers: ['From: kate@example.com', 'To: max@postfach.test', 'Subject: Quotes', 'Date: Thu, 8 Feb 2024 10:00:00 +0000'],
    body: 'He said "hello there" and left.',
    internal: '2024-02-08T10:00:00Z'
  },
  {
    name: 'fts-syntax',
    headers: ['From: leo@example.com', 'To: max@postfach.test', 'Subject: Syntax', 'Date: Fri, 9 Feb 2024 10:00:00 +0000'],
    body: 'a*b and this OR that and NEAR(x, y) and {body} : col',
    internal: '2024-02-09T10:00:00Z'
  },
  {
    name: 'zq-header',
    headers: ['From: mia@example.com', 'To: max@postfach.test', 'Subject: Short header', 'X-Code: Zq', 'Date: Sat, 10 Feb 2024 10:00:00 +0000'],
    body: 'nothing here',
    internal: '2024-02-10T10:00:00Z'
  },
  {
    name: 'euro',
    headers: ['From: nina@example.com', 'To: max@postfach.test', 'Subject: Price', 'Date: Sun, 11 Feb 2024 10:00:00 +0000', 'Content-Type: text/plain; charset=utf-8'],
    body: 'Preis: 5 €',
    internal: '2024-02-11T10:00:00Z'
  },
  {
    name: 'large',
    headers: ['From: oscar@example.com', 'To: max@postfach.test', 'Subject: Large', 'Date: Mon, 12 Feb 2024 10:00:00 +0000'],
    body: Array.from({ length: 600 }, (_, i) => `lorem ipsum dolor sit amet line ${i}`).join('\r\n'),
    internal: '2024-02-12T10:00:00Z'
  },
  {
    name: 'priority',
    headers: ['From: pat@example.com', 'To: "Team" <team@example.org>', 'Subject: Priority', 'X-Priority: 1 (Highest)', 'List-Id: <news.example.org>', 'Date: Tue, 13 Feb 2024 10:00:00 +0000'],
    body: 'Urgent.',
    internal: '2024-02-13T10:00:00Z'
  },
  {
    name: 'empty-header',
    headers: ['From: quinn@example.com', 'To: max@postfach.test', 'Subject: Empty header', 'X-Empty:', 'Date: Wed, 14 Feb 2024 10:00:00 +0000'],
    body: 'The X-Empty field has no value.',
    internal: '2024-02-14T10:00:00Z'
  },
  {
    name: 'nfd',
    headers: ['From: rita@example.com', 'To: max@postfach.test', 'Subject: Mu\u0308nchen Reise', 'Date: Thu, 15 Feb 2024 10:00:00 +0000'],
    body: 'Decomposed umlaut in the subject.',
    internal: '2024-02-15T10:00:00Z'
  },
  {
    name: 'cc-umlaut',
    headers: ['From: sam@example.com', 'To: max@postfach.test', 'Cc: =?UTF-8?Q?=C3=84rger_Team?= <aerger@example.org>', 'Subject: Team', 'Date: Fri, 16 Feb 2024 10:00:00 +0000'],
    body: 'Copy to the team.',
    internal: '2024-02-16T10:00:00Z'
  },
  { name: 'tiny', headers: ['Subject: t'], body: 'x', internal: '2024-02-17T10:00:00Z' },
  ...Array.from({ length: 10 }, (_, i): Fixture => ({
    name: `filler${i}`,
    headers: ['From: filler@example.com', 'To: max@postfach.test', `Subject: Filler ${i}`, `Date: ${i + 1} Apr 2024 10:00:00 +0000`],
    body: `Filler message number ${i}.`,
    flags: i % 2 ? ['\\Seen'] : [],
    internal: `2024-04-${String(i + 1).padStart(2, '0')}T10:00:00Z`
  }))
];

const NAMES = FIXTURES.map((f) => f.name);

let dataDir: string;
let handle: DatabaseHandle;
let blobs: BlobStore;
let mailboxId: number;
let uids: number[] = [];
const nameOf = new Map<number, string>();
const uidOf = (name: string) => uids[NAMES.indexOf(name)]!;
let bumpedModseq = 0;
let lastStoredModseq = 0;

beforeAll(async () => {
  dataDir = tempDir();
  handle = await openDatabase(dataDir);
  blobs = new BlobStore(dataDir);
  await blobs.init();
  await addDomain(handle.db, actor, 'postfach.test');
  const account = await addAccount({ db: handle.db, policy: { minLength: 8 }, defaultQuota: 0 }, actor, { address: 'max@postfach.test', password: PASSWORD });
  const store = async (raw: Buffer, specialUse: string | null, flags: string[], internal: number) => {
    const blob = await blobs.write([raw]);
    const [stored] = await writeTransaction(handle.db, (tx) => storeMessage(tx, blob, prepareMessage(raw), [{ accountId: account.id, specialUse, flags }], internal));
    blobs.release(blob.id);
    return stored!;
  };
  for (const f of FIXTURES) {
    const raw = Buffer.from([...f.headers, '', f.body].join('\r\n'), 'utf8');
    const stored = await store(raw, null, f.flags ?? [], at(f.internal));
    mailboxId = stored.mailboxId;
    uids.push(stored.uid);
    nameOf.set(stored.uid, f.name);
    lastStoredModseq = stored.modseq;
  }
  // the same text in another folder must stay out of INBOX searches
  await store(Buffer.from('Subject: Quarterly report copy\r\n\r\nThe quarterly numbers again.'), '\\Sent', [], at('2024-02-01T12:00:00Z'));
  // a later flag change raises the first message's modseq above every other (RFC 7162)
  const changed = await writeTransaction(handle.db, (tx) => updateFlags(tx, mailboxId, [[uidOf('plain'), uidOf('plain')]], 'add', ['\\Flagged']));
  bumpedModseq = changed.changed[0]!.modseq;
});

afterAll(async () => {
  await handle?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});


/** "1:3,5,*" against a highest value (sequence numbers or UIDs). */
function numberRanges(set: string, max: number): UidRanges {
  return set.split(',').map((item) => {
    const [a, b = a] = item.split(':').map((n) => (n === '*' ? max : Number(n)));
    return [Math.min(a!, b!), Math.max(a!, b!)] as [number, number];
  });
}

function resolver(saved: number[] = []): SetResolver {
  return {
    seq: (set) =>
      numberRanges(set, uids.length)
        .filter(([lo]) => lo <= uids.length)
        .map(([lo, hi]) => [uids[lo - 1]!, uids[Math.min(hi, uids.length) - 1]!]),
    uid: (set) => (set === '$' ? saved.map((u) => [u, u] as [number, number]) : numberRanges(set, uids[uids.length - 1]!)),
    saved: () => saved.map((u) => [u, u] as [number, number])
  };
}

async function run(program: string | SearchKey, resolve: SetResolver = resolver()): Promise<SearchResult> {
  const key = typeof program === 'string' ? parseSearchKeys(values(program)) : program;
  return searchMailbox(handle.db, mailboxId, key, resolve, (id) => blobs.read(id));
}

async function search(program: string, resolve?: SetResolver): Promise<string[]> {
  const result = await run(program, resolve);
  return result.uids.map((u) => nameOf.get(u) ?? `uid ${u}`);
}

const except = (...names: string[]) => NAMES.filter((n) => !names.includes(n));
const fillers = NAMES.filter((n) => n.startsWith('filler'));

describe('flags and keywords', () => {
  it.each<[string, string[]]>([
    ['SEEN', ['plain', 'umlaut', 'filler1', 'filler3', 'filler5', 'filler7', 'filler9']],
    ['ANSWERED', ['qp']],
    ['DELETED', ['base64']],
    ['DRAFT', ['attachment']],
    ['FLAGGED', ['plain', 'umlaut']],
    ['UNANSWERED', except('qp')],
    ['UNDELETED', except('base64')],
    ['UNDRAFT', except('attachment')],
    ['UNFLAGGED', except('plain', 'umlaut')],
    ['UNSEEN', except('plain', 'umlaut', 'filler1', 'filler3', 'filler5', 'filler7', 'filler9')],
    ['KEYWORD $Forwarded', ['keywords']],
    ['KEYWORD $forwarded', ['keywords']], // keywords are case-insensitive
    ['KEYWORD work_item', ['keywords']], // "_" is no wildcard: WorkXItem stays out
    ['KEYWORD Work%', []],
    ['KEYWORD Work', []], // a whole keyword, not a prefix
    ['KEYWORD Item', []],
    ['UNKEYWORD $Junk', except('html')],
    ['RECENT', []],
    ['NEW', []],
    ['OLD', NAMES],
    ['ALL', NAMES]
  ])('%s', async (program, expected) => {
    expect(await search(program)).toEqual(expected);
  });
});

describe('dates (UTC days)', () => {
  it.each<[string, string[]]>([
    ['BEFORE 2-Feb-2024', ['plain', 'sent-offset']],
    ['ON 2-Feb-2024', ['umlaut']],
    ['ON 2-FEB-2024 SEEN', ['umlaut']],
    ['SINCE 1-Apr-2024', fillers],
    ['SINCE 10-Mar-2024 BEFORE 1-Apr-2024', ['no-date']],
    ['NOT SINCE 2-Feb-2024', ['plain', 'sent-offset']],
    // Date: Sun, 31 Dec 2023 23:30 -0100 is 1 Jan 2024 00:30 UTC
    ['SENTON 1-Jan-2024', ['sent-offset']],
    ['SENTON 31-Dec-2023', []],
    ['SENTBEFORE 1-Feb-2024', ['sent-offset']],
    // Date: Fri, 2 Feb 2024 09:00 +0100 is 08:00 UTC on the same day
    ['SENTON 2-Feb-2024', ['umlaut']],
    // without a Date: field the internal date counts (RFC 5256 §2.2)
    ['SENTON 10-Mar-2024', ['no-date']],
    ['SENTSINCE 5-Apr-2024', ['filler4', 'filler5', 'filler6', 'filler7', 'filler8', 'filler9']],
    ['NOT SENTSINCE 2-Jan-2024', ['sent-offset']]
  ])('%s', async (program, expected) => {
    expect(await search(program)).toEqual(expected);
  });
});

describe('size and modseq', () => {
  it('LARGER and SMALLER compare the RFC 822 size', async () => {
    expect(await search('LARGER 20000')).toEqual(['large']);
    expect(await search('SMALLER 20')).toEqual(['tiny']);
    expect(await search('NOT LARGER 20000 NOT SMALLER 20')).toEqual(except('large', 'tiny'));
  });

  it('MODSEQ finds messages changed at or after the value and reports the highest modseq among the matches', async () => {
    const result = await run(`MODSEQ ${lastStoredModseq}`);
    expect(result.uids).toEqual([uidOf('plain'), uidOf('filler9')]);
    expect(result.highestModseq).toBe(bumpedModseq);
    expect(result.modseqs).toEqual([bumpedModseq, lastStoredModseq]);
    expect((await run(`MODSEQ ${bumpedModseq + 1}`)).uids).toEqual([]);
    expect((await run('MODSEQ "/flags/\\\\Seen" all 0')).uids).toHaveLength(NAMES.length);
  });

  it('reports the highest modseq of whatever matched, and 0 for no match', async () => {
    const filler = await run('SUBJECT "Filler 3"');
    expect(filler.highestModseq).toBeGreaterThan(0);
    expect(filler.highestModseq).toBeLessThan(bumpedModseq);
    expect((await run('SUBJECT nothing-like-this')).highestModseq).toBe(0);
  });
});

describe('address and subject fields', () => {
  it.each<[string, string[]]>([
    ['FROM alice', ['plain']],
    ['FROM ALICE@EXAMPLE', ['plain']],
    ['FROM "Alice Example"', ['plain']],
    ['TO bob', ['plain']],
    ['TO "team@example.org"', ['priority']],
    ['CC dave', ['qp']],
    ['BCC hidden', ['attachment']],
    ['SUBJECT quarterly', ['plain']],
    ['SUBJECT "uarterly rep"', ['plain']],
    ['SUBJECT ""', NAMES],
    ['FROM nobody', []],
    ['SUBJECT "50%"', []], // no LIKE wildcards
    ['SUBJECT "_"', []]
  ])('%s', async (program, expected) => {
    expect(await search(program)).toEqual(expected);
  });

  it.each<[string, string[]]>([
    ['SUBJECT größe', ['umlaut']],
    ['SUBJECT GRÖßE', ['umlaut']],
    ['SUBJECT "gRÖße DER"', ['umlaut']],
    ['SUBJECT GRÖSSE', []], // lower-casing, not full case folding: ß is no "ss"
    ['SUBJECT ö', ['umlaut']],
    ['FROM müller', ['umlaut']],
    ['FROM "JÖRG MÜLLER"', ['umlaut']],
    ['CC ärger', ['cc-umlaut']],
    ['CC "ÄRGER team"', ['cc-umlaut']],
    ['SUBJECT münchen', ['nfd']], // stored decomposed (u + U+0308), found by the composed form
    ['SUBJECT "mu\u0308nchen"', ['nfd']],
    ['NOT SUBJECT größe', except('umlaut')]
  ])('non-ASCII: %s', async (program, expected) => {
    expect(await search(program)).toEqual(expected);
  });
});

describe('TEXT and BODY through the trigram index', () => {
  it.each<[string, string[]]>([
    ['BODY quarterly', ['plain']],
    ['BODY "uarterly numb"', ['plain']], // inside words
    ['BODY QUARTERLY', ['plain']],
    ['TEXT Newsletter', ['html']], // the Subject: field
    ['BODY Newsletter', []],
    ['TEXT "alice@example"', ['plain']],
    ['BODY "world & friends"', ['html']], // HTML text with the entity decoded
    ['BODY hiddenscript', []], // scripts are not text
    ['BODY straße', ['qp']], // quoted-printable decoded, soft line break joined
    ['BODY "Ahornweg 5"', ['qp']],
    ['BODY pineapple', ['base64']],
    ['TEXT attachmentonlyword', []], // attachments are not searched
    ['BODY "attached file"', ['attachment']],
    ['TEXT größe', ['umlaut']],
    ['TEXT GRÖßE', ['umlaut']],
    ['BODY ärger', ['umlaut']],
    ['BODY "ÜBER DEM"', ['umlaut']],
    ['TEXT "X-Code: Zq"', ['zq-header']],
    ['TEXT ""', NAMES],
    ['NOT BODY quarterly', except('plain')]
  ])('%s', async (program, expected) => {
    expect(await search(program)).toEqual(expected);
  });

  it.each<[string, string[]]>([
    ['TEXT zq', ['zq-header']], // in a header only
    ['TEXT ZQ', ['zq-header']],
    ['BODY zq', []],
    ['TEXT €', ['euro']],
    ['BODY "5 €"', ['euro']], // 3 characters: the index again
    ['BODY ß', ['umlaut', 'qp']],
    ['BODY Ä', ['umlaut']],
    ['NOT TEXT zq', except('zq-header')],
    ['TEXT ö', ['umlaut']],
    ['SEEN TEXT ß', ['umlaut']]
  ])('1-2 characters are searched in the stored message: %s', async (program, expected) => {
    expect(await search(program)).toEqual(expected);
  });

  it.each<[string, string[]]>([
    ['BODY "\\"hello there\\""', ['quotes']],
    ['BODY "\\"hello"', ['quotes']],
    ['BODY "\\""', ['quotes']],
    ['BODY "hello\\" OR \\"quarterly"', []],
    ['BODY "\\" OR \\""', []],
    ['TEXT "\\" OR quarterly OR \\""', []],
    ['BODY a*b', ['fts-syntax']],
    ['BODY "*"', ['fts-syntax']],
    ['BODY "quart*"', []],
    ['BODY "this OR that"', ['fts-syntax']],
    ['BODY "quarterly OR pineapple"', []],
    ['BODY "NEAR(x"', ['fts-syntax']],
    ['BODY "NEAR(quarterly regards)"', []],
    ['BODY "{body} : col"', ['fts-syntax']],
    ['BODY "{headers} : Newsletter"', []],
    ['TEXT "subject : newsletter"', []],
    ['BODY "^The"', []],
    ['BODY "quarterly + numbers"', []],
    ['BODY "- numbers"', []],
    ['BODY ")("', []]
  ])('user input is never FTS syntax: %s', async (program, expected) => {
    expect(await search(program)).toEqual(expected);
  });
});

describe('HEADER', () => {
  it.each<[string, string[]]>([
    ['HEADER X-Priority 1', ['priority']],
    ['HEADER x-priority HIGHEST', ['priority']],
    ['HEADER X-Priority "(Highest)"', ['priority']],
    ['HEADER X-Priority 2', []],
    ['HEADER X-Empty ""', ['empty-header']], // present, even with no value
    ['HEADER List-Id ""', ['priority']],
    ['HEADER X-Nope ""', []],
    ['HEADER From alice', ['plain']],
    ['HEADER To alice', []], // alice is in From:, not To:
    ['HEADER Subject größe', ['umlaut']], // encoded-words decoded
    ['HEADER Subject ö', ['umlaut']],
    ['HEADER X-Code zq', ['zq-header']],
    ['HEADER Message-ID "<plain@"', ['plain']],
    ['HEADER Date "Dec 2023"', ['sent-offset']],
    ['HEADER Content-Type "boundary"', ['attachment']],
    ['HEADER X-Priority "\\" OR \\""', []],
    ['NOT HEADER X-Priority ""', except('priority')],
    ['NOT HEADER From example', ['tiny']]
  ])('%s', async (program, expected) => {
    expect(await search(program)).toEqual(expected);
  });
});

describe('sequence sets, UID sets and $', () => {
  it('resolves sequence numbers and UIDs through the session', async () => {
    expect(await search('1:3')).toEqual(NAMES.slice(0, 3));
    expect(await search('*')).toEqual([NAMES[NAMES.length - 1]]);
    expect(await search('2,4:5')).toEqual([NAMES[1], NAMES[3], NAMES[4]]);
    expect(await search(`UID ${uidOf('qp')},${uidOf('euro')}`)).toEqual(['qp', 'euro']);
    expect(await search(`NOT UID 1:${uidOf('tiny')}`)).toEqual(fillers);
    expect(await search('UID 1000:2000')).toEqual([]);
  });

  it('resolves $ to the saved result', async () => {
    const saved = [uidOf('html'), uidOf('large')];
    expect(await search('$', resolver(saved))).toEqual(['html', 'large']);
    expect(await search('UID $ UNSEEN', resolver(saved))).toEqual(['html', 'large']);
    expect(await search('$', resolver([]))).toEqual([]);
    expect(await search('NOT $', resolver(saved))).toEqual(except('html', 'large'));
  });

  it('asks uid("$") when the resolver has no saved()', async () => {
    const { saved: _saved, ...withoutSaved } = resolver([uidOf('qp')]);
    expect(await search('$', withoutSaved)).toEqual(['qp']);
  });

  it('checks a set of many scattered UIDs outside SQL with the same result', async () => {
    const odd = Array.from({ length: 200 }, (_, i) => 2 * i + 1); // 200 ranges after merging
    const expected = uids.filter((u) => u % 2 === 1).map((u) => nameOf.get(u));
    expect(await search('$', resolver(odd))).toEqual(expected);
    expect(await search('NOT $', resolver(odd))).toEqual(uids.filter((u) => u % 2 === 0).map((u) => nameOf.get(u)));
    expect(await search('OR $ FLAGGED', resolver(odd))).toEqual(uids.filter((u) => u % 2 === 1 || u === uidOf('umlaut') || u === uidOf('plain')).map((u) => nameOf.get(u)));
  });
});

describe('combinations', () => {
  it.each<[string, string[]]>([
    ['SEEN FLAGGED', ['plain', 'umlaut']],
    ['(SEEN FLAGGED)', ['plain', 'umlaut']],
    ['OR FROM alice TEXT zq', ['plain', 'zq-header']],
    ['OR ANSWERED DELETED', ['qp', 'base64']],
    ['NOT (OR SEEN DELETED)', except('plain', 'umlaut', 'base64', 'filler1', 'filler3', 'filler5', 'filler7', 'filler9')],
    ['OR HEADER X-Code zq BODY pineapple', ['base64', 'zq-header']],
    ['NOT (OR TEXT zq HEADER X-Priority 1)', except('zq-header', 'priority')],
    ['OR (SUBJECT größe FLAGGED) (BODY ß ANSWERED)', ['umlaut', 'qp']],
    ['NOT NOT SEEN', ['plain', 'umlaut', 'filler1', 'filler3', 'filler5', 'filler7', 'filler9']],
    ['OR NOT HEADER X-Empty "" SEEN', except('empty-header')],
    ['UNSEEN NOT (OR HEADER From filler TEXT ß)', except('plain', 'umlaut', 'qp', ...fillers)],
    ['SINCE 1-Feb-2024 BEFORE 3-Feb-2024 OR FROM alice FROM müller', ['plain', 'umlaut']],
    ['OR OR OR FROM alice TO team CC dave BCC hidden', ['plain', 'qp', 'attachment', 'priority']]
  ])('%s', async (program, expected) => {
    expect(await search(program)).toEqual(expected);
  });

  const programs = [
    'SEEN',
    'TEXT zq',
    'BODY ß',
    'HEADER X-Priority 1',
    'SUBJECT größe',
    'OR FROM alice TEXT zq',
    '(HEADER From example SEEN)',
    'OR NOT BODY quarterly HEADER To team',
    'SENTSINCE 1-Feb-2024 NOT TEXT €',
    'OR (NOT SUBJECT ö) (KEYWORD $Junk)'
  ];
  it.each(programs)('NOT (%s) is the exact complement', async (program) => {
    const yes = await search(program);
    const no = await search(`NOT (${program})`);
    expect([...yes, ...no].sort()).toEqual([...NAMES].sort());
    expect(yes.filter((n) => no.includes(n))).toEqual([]);
  });

  it('handles the key and nesting limits in SQL (balanced AND, deep OR)', async () => {
    const flat = Array.from({ length: 998 }, (_, i) => `UNKEYWORD k${i}`).join(' ');
    expect(await search(`${flat} SEEN`)).toEqual(['plain', 'umlaut', 'filler1', 'filler3', 'filler5', 'filler7', 'filler9']);
    const headers = Array.from({ length: 60 }, (_, i) => `HEADER X-Priority ${i + 2}`).join(' ');
    expect(await search(`${'OR '.repeat(60)}HEADER X-Code zq ${headers}`)).toEqual(['zq-header']);
    const ors = Array.from({ length: 60 }, (_, i) => `SUBJECT "Filler ${i}"`).join(' ');
    expect(await search(`${'OR '.repeat(60)}FROM alice ${ors}`)).toEqual(['plain', ...fillers]);
  });

  it('reads a message whose file vanished (expunged meanwhile) as empty instead of failing the search', async () => {
    const key = parseSearchKeys(values('OR TEXT zq HEADER X-Priority ""'));
    const gone = Object.assign(new Error('gone'), { code: 'ENOENT' });
    const result = await searchMailbox(handle.db, mailboxId, key, resolver(), async () => {
      throw gone;
    });
    expect(result.uids).toEqual([]);
    const broken = searchMailbox(handle.db, mailboxId, key, resolver(), async () => {
      throw new Error('disk on fire');
    });
    await expect(broken).rejects.toThrow('disk on fire');
  });

  it('searches only the given folder', async () => {
    expect(await search('SUBJECT copy')).toEqual([]);
    expect(await search('BODY again')).toEqual([]);
  });
});
