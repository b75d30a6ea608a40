// `postfach backup` and `postfach restore`: one tar archive (gzip-compressed for .tar.gz/.tgz) holding a consistent
// database snapshot (online backup API, taken while the server runs), every message blob that snapshot references,
// the TLS/ACME files, and manifest.json (counts, sizes and SHA-256 of everything) as the last entry. Restore checks
// every hash and the database before anything is put in place, into an empty data folder or, with --force, over one
// whose server is stopped (the replaced files are kept aside).
import crypto from 'node:crypto';
import fs from 'node:fs';
import { PACKAGE_VERSION as VERSION } from '../paths.js';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import type { Config } from '../config/schema.js';
import { MIGRATION_NAMES } from '../db/connect.js';
import { DATABASE_FILE, databaseInUse, snapshotDatabase, snapshotFacts, type SnapshotFacts } from '../db/snapshot.js';
import { BlobStore, syncDirectory } from '../store/blobs.js';

export const BACKUP_FORMAT = 'postfach-backup';
export const BACKUP_VERSION = 1;
/**
 * Folders of the data folder whose files travel with a backup: generated certificate, ACME account and certificate,
 * secrets (the key that opens stored import passwords).
 */
const EXTRA_FOLDERS = ['tls', 'acme', 'secrets'];
const MANIFEST = 'manifest.json';

export class BackupError extends Error {}

export interface Manifest {
  format: typeof BACKUP_FORMAT;
  version: number;
  postfachVersion: string;
  createdAt: string;
  hostname: string;
  database: { file: string; size: number; sha256: string; migrations: string[] };
  counts: Record<string, number>;
  /** every blob in the archive: its id is the SHA-256 of its content */
  blobs: Array<{ id: string; size: number }>;
  files: Array<{ path: string; size: number; sha256: string }>;
}

export interface BackupSummary {
  file: string;
  manifest: Manifest;
  bytes: number;
}


const gzipped = (name: string) => /\.(tgz|gz)$/i.test(name);

/** Where `postfach backup <target>` writes: the file named, or a new dated .tar.gz in the folder named, or stdout. */
export function backupTarget(target: string, hostname: string, now = new Date()): string {
  if (target === '-') return '-';
  if (fs.existsSync(target) && fs.statSync(target).isDirectory()) {
    const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    return path.join(target, `postfach-backup-${hostname}-${stamp}.tar.gz`);
  }
  return target;
}

/** Streams a file into a tar entry, hashing what goes in; null when the file is gone (ENOENT). */
async function addFile(pack: tar.Pack, name: string, file: string): Promise<{ size: number; sha256: string } | null> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const { size, mtime } = await handle.stat();
    const hash = crypto.createHash('sha256');
    const entry = pack.entry({ name, size, mode: 0o600, mtime });
    const done = new Promise<void>((resolve, reject) => {
      entry.once('finish', resolve);
      entry.once('error', reject);
    });
    const source = handle.createReadStream({ autoClose: false, highWaterMark: 256 * 1024 });
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      }
    });
    await pipeline(source, hashing, entry);
    await done;
    return { size, sha256: hash.digest('hex') };
  } finally {
    await handle.close();
  }
}

function addBuffer(pack: tar.Pack, name: string, content: Buffer): Promise<void> {
  return new Promise((resolve, reject) => pack.entry({ name, size: content.length, mode: 0o600, mtime: new Date() }, content, (err) => (err ? reject(err) : resolve())));
}

/**
 * Writes the archive. The server may run and take mail meanwhile: the snapshot is one moment; blobs are immutable and
 * content-addressed, so the files the snapshot references are copied as they are. A blob deleted after the snapshot
 * (its message expunged) is found missing: a new snapshot, which no longer references it, replaces the first.
 */
export async function runBackup(config: Config, target: string, stdout: Writable = process.stdout): Promise<BackupSummary> {
  const dbFile = path.join(config.dataDir, DATABASE_FILE);
  if (!fs.existsSync(dbFile)) throw new BackupError(`no database in ${config.dataDir} (POSTFACH_DATA_DIR): nothing to back up`);
  const file = backupTarget(target, config.hostname);
  const work = await fsp.mkdtemp(path.join(file === '-' ? os.tmpdir() : path.dirname(path.resolve(file)), '.postfach-backup-'));
  const partial = file === '-' ? null : `${file}.partial`;
  try {
    const pack = tar.pack();
    const sink: Writable = partial ? fs.createWriteStream(partial, { mode: 0o600 }) : stdout;
    const written = gzipped(file) ? pipeline(pack, zlib.createGzip({ level: 6 }), sink) : pipeline(pack, sink);
    // a failing output (disk full) must not leave the entries below waiting for room forever
    written.catch((err) => pack.destroy(err));
    let bytes = 0;

    const blobs = new BlobStore(config.dataDir);
    const inArchive = new Map<string, number>();
    let snapshot = path.join(work, DATABASE_FILE);
    let facts: SnapshotFacts | null = null;
    for (let round = 1; ; round++) {
      await snapshotDatabase(dbFile, snapshot);
      facts = snapshotFacts(snapshot);
      if (facts.integrity !== 'ok') throw new BackupError(`the database fails its integrity check (${facts.integrity}); not backing up a damaged database`);
      const missing: string[] = [];
      for (const blob of facts.blobs) {
        if (inArchive.has(blob.id)) continue;
        const added = await addFile(pack, `blobs/${blob.id.slice(0, 2)}/${blob.id.slice(2, 4)}/${blob.id}`, blobs.path(blob.id));
        if (!added) {
          missing.push(blob.id);
          continue;
        }
        if (added.sha256 !== blob.id) throw new BackupError(`blob ${blob.id} is damaged: its content hashes to ${added.sha256}`);
        inArchive.set(blob.id, added.size);
        bytes += added.size;
      }
      if (!missing.length) break;
      if (round === 3) throw new BackupError(`blob files referenced by the database are missing from ${blobs.root}: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ' …' : ''}`);
      // deleted while we copied: a newer snapshot no longer references them
      snapshot = path.join(work, `${DATABASE_FILE}.${round + 1}`);
    }

    const files: Manifest['files'] = [];
    for (const folder of EXTRA_FOLDERS) {
      const dir = path.join(config.dataDir, folder);
      if (!fs.existsSync(dir)) continue;
      for (const name of (await fsp.readdir(dir)).sort()) {
        if (!/^[A-Za-z0-9._-]+$/.test(name) || name.endsWith('.tmp') || !(await fsp.stat(path.join(dir, name))).isFile()) continue;
        const added = await addFile(pack, `files/${folder}/${name}`, path.join(dir, name));
        if (added) files.push({ path: `${folder}/${name}`, ...added });
      }
    }

    const database = await addFile(pack, DATABASE_FILE, snapshot);
    if (!database) throw new BackupError('the database snapshot vanished while writing the archive');
    const referenced = new Set(facts.blobs.map((b) => b.id));
    const manifest: Manifest = {
      format: BACKUP_FORMAT,
      version: BACKUP_VERSION,
      postfachVersion: VERSION,
      createdAt: new Date().toISOString(),
      hostname: config.hostname,
      database: { file: DATABASE_FILE, size: database.size, sha256: database.sha256, migrations: facts.migrations },
      counts: { ...facts.counts, blobs: referenced.size },
      blobs: [...inArchive].filter(([id]) => referenced.has(id)).map(([id, size]) => ({ id, size })),
      files
    };
    await addBuffer(pack, MANIFEST, Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
    pack.finalize();
    await written;
    if (partial) {
      const handle = await fsp.open(partial, 'r+');
      await handle.sync();
      await handle.close();
      await fsp.rename(partial, file);
    }
    return { file, manifest, bytes: bytes + database.size };
  } catch (err) {
    if (partial) await fsp.rm(partial, { force: true });
    throw err;
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}

export interface RestoreSummary {
  manifest: Manifest;
  /** where the data that was replaced (--force) was moved */
  replacedInto: string | null;
}

const BLOB_ENTRY = /^blobs\/([0-9a-f]{2})\/([0-9a-f]{2})\/([0-9a-f]{64})$/;
const FILE_ENTRY = new RegExp(`^files/(${EXTRA_FOLDERS.join('|')})/([A-Za-z0-9._-]+)$`);

/** Gunzips when the stream starts with the gzip magic bytes (RFC 1952 §2.3.1), passes it through otherwise. */
function maybeGunzip(): Transform {
  let decided: Transform | null = null;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (!decided) {
        decided = chunk[0] === 0x1f && chunk[1] === 0x8b ? zlib.createGunzip() : new PassThrough();
        decided.on('data', (data: Buffer) => this.push(data));
        decided.on('error', (err) => this.destroy(err));
      }
      if (decided.write(chunk)) callback();
      else decided.once('drain', () => callback());
    },
    flush(callback) {
      if (!decided) return callback();
      decided.once('end', () => callback());
      decided.end();
    }
  });
}

/** Unpacks the archive into `staging`, hashing every entry; refuses anything that is not part of a backup. */
async function unpack(input: Readable, staging: string): Promise<{ manifest: Manifest | null; hashes: Map<string, { size: number; sha256: string }> }> {
  const hashes = new Map<string, { size: number; sha256: string }>();
  let manifest: Manifest | null = null;
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const name = header.name;
    // a refused entry destroys the extract, which also errors the entry's stream: the pipeline below reports it once
    stream.on('error', () => undefined);
    const fail = (message: string) => {
      stream.resume();
      next(new BackupError(message));
    };
    if (header.type !== 'file') return fail(`unexpected ${header.type} entry "${name}" in the archive`);
    const blob = BLOB_ENTRY.exec(name);
    if (blob && (blob[1] !== blob[3].slice(0, 2) || blob[2] !== blob[3].slice(2, 4))) return fail(`blob entry "${name}" is in the wrong folder`);
    if (name !== MANIFEST && name !== DATABASE_FILE && !blob && !FILE_ENTRY.test(name)) return fail(`unexpected entry "${name}": not a Postfach backup`);
    if (name === MANIFEST) {
      const chunks: Buffer[] = [];
      stream.on('data', (c) => chunks.push(c as Buffer));
      stream.on('end', () => {
        try {
          manifest = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Manifest;
          next();
        } catch {
          next(new BackupError('manifest.json is not valid JSON'));
        }
      });
      return;
    }
    const dest = path.join(staging, name);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    const hash = crypto.createHash('sha256');
    let size = 0;
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      }
    });
    pipeline(stream, hashing, fs.createWriteStream(dest, { mode: 0o600 })).then(
      () => {
        const sha256 = hash.digest('hex');
        if (blob && sha256 !== blob[3]) return next(new BackupError(`blob ${blob[3]} in the archive is damaged: its content hashes to ${sha256}`));
        hashes.set(name, { size, sha256 });
        next();
      },
      (err) => next(err)
    );
  });
  await pipeline(input, maybeGunzip(), extract);
  return { manifest, hashes };
}

/** Moves `from` to `to` (same file system), creating the parent folder. */
async function move(from: string, to: string): Promise<void> {
  await fsp.mkdir(path.dirname(to), { recursive: true });
  await fsp.rename(from, to);
}

/** Data-folder entries a restore replaces. */
const REPLACED = [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`, 'blobs', ...EXTRA_FOLDERS];

/**
 * Restores an archive into the configured data folder. Refuses a data folder with a database unless `force`, and
 * refuses while a server has that database open. Nothing in the data folder changes until every check passed.
 */
export async function runRestore(config: Config, source: string, options: { force: boolean; stdin?: Readable }): Promise<RestoreSummary> {
  const dataDir = config.dataDir;
  const dbFile = path.join(dataDir, DATABASE_FILE);
  const existing = fs.existsSync(dbFile);
  if (existing && !options.force) throw new BackupError(`${dataDir} already holds a Postfach database; restore into an empty data folder, or pass --force to replace it (the current data is kept aside)`);
  if (existing && databaseInUse(dbFile)) throw new BackupError(`a running Postfach has ${dbFile} open: stop the server first`);
  if (source !== '-' && !fs.existsSync(source)) throw new BackupError(`no such backup file: ${source}`);
  await fsp.mkdir(dataDir, { recursive: true });
  const staging = await fsp.mkdtemp(path.join(dataDir, '.restore-'));
  try {
    const input = source === '-' ? (options.stdin ?? process.stdin) : fs.createReadStream(source);
    const { manifest, hashes } = await unpack(input, staging);
    if (!manifest) throw new BackupError('the archive has no manifest.json: not a complete Postfach backup (interrupted while it was written?)');
    if (manifest.format !== BACKUP_FORMAT) throw new BackupError(`manifest.json is not a Postfach backup manifest (format ${JSON.stringify(manifest.format)})`);
    if (manifest.version > BACKUP_VERSION) throw new BackupError(`backup format ${manifest.version} is newer than this Postfach understands (${BACKUP_VERSION}): update Postfach first`);
    const db = hashes.get(DATABASE_FILE);
    if (!db || db.sha256 !== manifest.database.sha256 || db.size !== manifest.database.size) throw new BackupError('the database in the archive does not match its manifest (damaged archive)');
    for (const blob of manifest.blobs) {
      const got = hashes.get(`blobs/${blob.id.slice(0, 2)}/${blob.id.slice(2, 4)}/${blob.id}`);
      if (!got || got.size !== blob.size) throw new BackupError(`blob ${blob.id} listed in the manifest is missing or truncated in the archive`);
    }
    for (const file of manifest.files) {
      const got = hashes.get(`files/${file.path}`);
      if (!got || got.sha256 !== file.sha256) throw new BackupError(`file ${file.path} listed in the manifest is missing or damaged in the archive`);
    }
    const facts = snapshotFacts(path.join(staging, DATABASE_FILE));
    if (facts.integrity !== 'ok') throw new BackupError(`the database in the archive fails its integrity check: ${facts.integrity}`);
    const listed = new Set(manifest.blobs.map((b) => b.id));
    const unlisted = facts.blobs.filter((b) => !listed.has(b.id));
    if (unlisted.length) throw new BackupError(`the database references ${unlisted.length} blob(s) the archive does not hold, e.g. ${unlisted[0].id}`);
    const unknown = facts.migrations.filter((name) => !MIGRATION_NAMES.includes(name));
    if (unknown.length) throw new BackupError(`the backup was made by a newer Postfach (database migration ${unknown[0]} is unknown here): update Postfach first`);

    let replacedInto: string | null = null;
    if (existing) {
      if (databaseInUse(dbFile)) throw new BackupError(`a running Postfach has ${dbFile} open: stop the server first`);
      replacedInto = path.join(dataDir, `replaced-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`);
      for (const name of REPLACED) if (fs.existsSync(path.join(dataDir, name))) await move(path.join(dataDir, name), path.join(replacedInto, name));
    } else {
      // blob files of an earlier, unfinished data folder would only confuse: the folder must not have a blob store
      for (const name of ['blobs', ...EXTRA_FOLDERS]) {
        if (fs.existsSync(path.join(dataDir, name)) && (await fsp.readdir(path.join(dataDir, name))).length) throw new BackupError(`${path.join(dataDir, name)} is not empty; restore into an empty data folder or pass --force`);
        await fsp.rm(path.join(dataDir, name), { recursive: true, force: true });
      }
    }
    await move(path.join(staging, DATABASE_FILE), dbFile);
    await move(path.join(staging, 'blobs'), path.join(dataDir, 'blobs')).catch(async (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') await fsp.mkdir(path.join(dataDir, 'blobs'), { recursive: true });
      else throw err;
    });
    for (const folder of EXTRA_FOLDERS) {
      if (fs.existsSync(path.join(staging, 'files', folder))) await move(path.join(staging, 'files', folder), path.join(dataDir, folder));
    }
    await syncDirectory(dataDir);
    return { manifest, replacedInto };
  } finally {
    await fsp.rm(staging, { recursive: true, force: true });
  }
}


const MB = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

/** The `postfach backup|restore` commands: exit code 0 done, 1 refused (the message says why), 2 usage. */
export async function backupCommand(command: 'backup' | 'restore', args: string[], flags: { force: boolean; json: boolean }, config: Config): Promise<number> {
  const [target, ...extra] = args;
  if (!target || extra.length) {
    process.stderr.write(`postfach: usage: postfach ${command === 'backup' ? 'backup <file.tar.gz|folder|->' : 'restore <file|-> [--force]'}\n`);
    return 2;
  }
  // with the archive on standard output, messages go to standard error
  const say = (text: string) => (target === '-' ? process.stderr : process.stdout).write(text + '\n');
  try {
    if (command === 'backup') {
      const { file, manifest, bytes } = await runBackup(config, target);
      if (flags.json) say(JSON.stringify({ file, counts: manifest.counts, bytes }));
      else say(`backup written to ${file === '-' ? 'standard output' : file}: ${manifest.counts.accounts} account(s), ${manifest.counts.messages} message(s), ${manifest.counts.blobs} message file(s), ${manifest.counts.queue} queue entr${manifest.counts.queue === 1 ? 'y' : 'ies'}; ${MB(bytes)} before compression`);
    } else {
      const { manifest, replacedInto } = await runRestore(config, target, { force: flags.force });
      if (flags.json) say(JSON.stringify({ dataDir: config.dataDir, counts: manifest.counts, createdAt: manifest.createdAt, replacedInto }));
      else {
        say(`restored the backup of ${manifest.hostname} from ${manifest.createdAt} into ${config.dataDir}: ${manifest.counts.accounts} account(s), ${manifest.counts.messages} message(s), ${manifest.counts.blobs} message file(s); every hash checked`);
        if (replacedInto) say(`the data it replaced is in ${replacedInto} (delete it once the restored server works)`);
      }
    }
    return 0;
  } catch (err) {
    if (!(err instanceof BackupError)) throw err;
    process.stderr.write(`postfach: ${command}: ${err.message}\n`);
    return 1;
  }
}
