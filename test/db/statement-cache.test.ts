// The statement cache between kysely and better-sqlite3: the same SQL text reuses its compiled statement, a busy one
// (a query still being iterated) is not handed out twice, a schema change is seen through a cached statement, and the
// cache stays bounded.
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { reusingStatements } from '../../server/db/connect.js';
import { tempDir } from '../helpers/server.js';

let dir: string;
let sqlite: SQLite.Database;

function open() {
  dir = tempDir('postfach-statements-');
  sqlite = new SQLite(path.join(dir, 'test.sqlite'));
  sqlite.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)');
  sqlite.exec("INSERT INTO t (name) VALUES ('a'), ('b'), ('c')");
  return reusingStatements(sqlite);
}

afterEach(() => {
  sqlite?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('reusing prepared statements', () => {
  it('hands out the compiled statement again for the same text, a new one for other text', () => {
    const db = open();
    const first = db.prepare('SELECT name FROM t WHERE id = ?');
    expect(db.prepare('SELECT name FROM t WHERE id = ?')).toBe(first);
    expect(db.prepare('SELECT name FROM t WHERE id = ? ')).not.toBe(first);
    expect(first.all([2])).toEqual([{ name: 'b' }]);
    expect(db.prepare('SELECT name FROM t WHERE id = ?').all([3])).toEqual([{ name: 'c' }]);
  });

  it('gives a second statement while the first is still iterating', () => {
    const db = open();
    const text = 'SELECT id FROM t ORDER BY id';
    const rows = db.prepare(text).iterate([]);
    expect(rows.next().value).toEqual({ id: 1 });
    const other = db.prepare(text);
    expect(other.all([])).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    expect([...rows]).toEqual([{ id: 2 }, { id: 3 }]);
  });

  it('sees a schema change through a cached statement', () => {
    const db = open();
    expect(db.prepare('SELECT * FROM t WHERE id = ?').all([1])).toEqual([{ id: 1, name: 'a' }]);
    sqlite.exec("ALTER TABLE t ADD COLUMN note TEXT DEFAULT 'neu'");
    expect(db.prepare('SELECT * FROM t WHERE id = ?').all([1])).toEqual([{ id: 1, name: 'a', note: 'neu' }]);
  });

  it('keeps at most 500 statements, dropping the least recently used', () => {
    const db = open();
    const kept = db.prepare('SELECT 0');
    const evicted = db.prepare('SELECT -1');
    for (let i = 1; i < 500; i++) {
      db.prepare(`SELECT ${i}`);
      if (i % 100 === 0) db.prepare('SELECT 0'); // used again: moves to the recent end
    }
    expect(db.prepare('SELECT 0')).toBe(kept);
    expect(db.prepare('SELECT -1')).not.toBe(evicted);
  });
});
