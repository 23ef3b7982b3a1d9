/**
 * The console's records (apps, roles; identity migration 2) on both identity backends: SQLite
 * always, PostgreSQL when reachable (under CI it must be).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openIdentityStore, type InspectableIdentityStore } from '../../src/accounts/open-store.js';
import { PostgresIdentityStore } from '../../src/accounts/postgres-store.js';
import { postgresUnavailable, postgresUrl, requireServices, uniquePrefix } from '../helpers/services.js';

async function scenario(store: InspectableIdentityStore): Promise<void> {
  await store.migrate();
  await store.migrate(); // a second start finds nothing to do
  const account = { id: 'a'.repeat(32), email: 'dev@example.com', passwordHash: 'x', createdAt: 1, generation: 1, keysChangedAt: 1, lastAuthAt: 1 };
  await store.createAccount(account);
  await store.createAccount({ ...account, id: 'b'.repeat(32), email: 'other@example.com' });
  const app = { id: 'c'.repeat(32), accountId: account.id, name: 'Weather', publicKey: 'BPub', createdAt: 5, revokedAt: null };
  await store.console.createApp(app);
  await store.console.createApp({ ...app, id: 'd'.repeat(32), name: 'Later', createdAt: 6 });
  assert.deepEqual((await store.console.listAppsPage(account.id, { after: null, limit: 10 })).map((each) => each.name), ['Weather', 'Later']);
  assert.deepEqual(await store.console.listAppsPage('b'.repeat(32), { after: null, limit: 10 }), []);
  assert.equal(await store.console.appById('b'.repeat(32), app.id), null, "another account's app is not found");
  assert.equal(await store.console.markAppRevoked(account.id, app.id, 9), true);
  assert.equal(await store.console.markAppRevoked(account.id, app.id, 12), true);
  assert.equal((await store.console.appById(account.id, app.id))?.revokedAt, 9, 'the first revocation time stays');
  assert.equal(await store.console.deleteApp('b'.repeat(32), app.id), false);
  assert.equal(await store.console.deleteApp(account.id, app.id), true);
  assert.deepEqual(await store.console.rolesOf(account.id), []);
  assert.equal(await store.console.grantRole(account.id, 'operator'), true);
  assert.equal(await store.console.grantRole(account.id, 'operator'), false);
  assert.deepEqual(await store.console.rolesOf(account.id), ['operator']);
  assert.equal(await store.console.revokeRole(account.id, 'operator'), true);
  assert.deepEqual(await store.console.rolesOf(account.id), []);
}

describe('console records on SQLite', () => {
  it('apps belong to one account, revocation keeps its first time, roles are granted once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'herald-console-'));
    const store = await openIdentityStore('accounts.sqlite', dir);
    try {
      await scenario(store);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const unavailable = await postgresUnavailable();
requireServices([unavailable], (skip) => {
  describe('console records on PostgreSQL', { skip }, () => {
    it('apps belong to one account, revocation keeps its first time, roles are granted once', async () => {
      const store = new PostgresIdentityStore(`${postgresUrl}${postgresUrl.includes('?') ? '&' : '?'}schema=${uniquePrefix('console').replace(/-/g, '_')}`);
      try {
        await scenario(store);
      } finally {
        await store.dropSchema();
        await store.close();
      }
    });
  });
});
