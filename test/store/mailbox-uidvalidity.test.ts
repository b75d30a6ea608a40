// RFC 9051 §2.3.1.1: a folder deleted and created again under the same name gets a new UIDVALIDITY, even within the
// same second (clients and the importer would otherwise take the new folder's UIDs for the old ones).
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../server/db/connect.js';
import { writeTransaction } from '../../server/db/transaction.js';
import { addAccount } from '../../server/directory/accounts.js';
import { addDomain } from '../../server/directory/domains.js';
import { deleteMailbox } from '../../server/store/mailbox-messages.js';
import { createMailbox, findMailbox } from '../../server/store/mailboxes.js';
import { PASSWORD, actor, tempDir } from '../helpers/server.js';

const dataDir = tempDir();
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

describe('UIDVALIDITY of a re-created folder', () => {
  it('is new each time the folder is deleted and created again at once', async () => {
    const { db, close } = await openDatabase(dataDir);
    try {
      await addDomain(db, actor, 'firma.de');
      const account = await addAccount({ db, policy: { minLength: 10 }, defaultQuota: 0 }, actor, { address: 'info@firma.de', password: PASSWORD });
      const seen = new Set<number>();
      for (let round = 0; round < 3; round++) {
        const created = await writeTransaction(db, (tx) => createMailbox(tx, account.id, 'Projekte'));
        expect(seen.has(created.uidvalidity), `round ${round}`).toBe(false);
        seen.add(created.uidvalidity);
        await writeTransaction(db, (tx) => deleteMailbox(tx, account.id, 'Projekte'));
      }
      expect(await findMailbox(db, account.id, 'Projekte')).toBeUndefined();
    } finally {
      await close();
    }
  });
});
