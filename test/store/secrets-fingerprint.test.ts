/**
 * Issue 10 item 18: a node with other secrets must not join a cluster, where it would answer every
 * endpoint the other nodes issued with 404 errno 102 (senders then drop the subscription). The
 * check against the fingerprints in the shared database, on both backends, node by node: each
 * "node" is its own store on the same database, as separate processes are.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { generateRingKey, type RingKey } from '../../src/crypto/keyring.js';
import { openStore } from '../../src/store/open/open-store.js';
import { checkSecretsFingerprint, secretFingerprint, SecretsMismatchError, type KeyRings } from '../../src/store/secrets-fingerprint.js';
import type { Store } from '../../src/store/types.js';
import { postgresUnavailable, postgresUrl } from '../helpers/services.js';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;
const DATA_DIR = '/var/lib/herald';

/** One database several nodes open. */
interface Database {
  node(): Promise<Store>;
  drop(): Promise<void>;
}

type Rings = { endpointTokens: RingKey[]; messageIds: RingKey[]; tokenServer: RingKey[] };

/** A secrets.json as a first start makes it. */
function freshRings(): Rings {
  return { endpointTokens: [generateRingKey(1)], messageIds: [generateRingKey(1)], tokenServer: [generateRingKey(1)] };
}

/** Starts a node on the database with these rings: the check passes, or this throws its error. */
async function start(database: Database, rings: KeyRings, now = T0): Promise<void> {
  const store = await database.node();
  try {
    await checkSecretsFingerprint(store, rings, { dataDir: DATA_DIR, now });
  } finally {
    await store.close();
  }
}

async function refused(database: Database, rings: KeyRings, problem: string, now = T0): Promise<void> {
  await assert.rejects(start(database, rings, now), (error: Error) => {
    assert.ok(error instanceof SecretsMismatchError, `a SecretsMismatchError, not ${error.name}: ${error.message}`);
    assert.equal(
      error.message.slice(0, error.message.indexOf(' (one node alone')),
      `secrets.json in ${DATA_DIR} does not match the cluster's (${problem}): copy secrets.json from a running node to every node`,
    );
    return true;
  });
}

function scenarios(backend: string, makeDatabase: () => Database): void {
  function scenario(title: string, body: (database: Database) => Promise<void>): void {
    test(title, async () => {
      const database = makeDatabase();
      try {
        await body(database);
      } finally {
        await database.drop();
      }
    });
  }

  describe(`secrets fingerprint: ${backend}`, () => {
    scenario('the first node records its keys; it and every node with a copy of its secrets.json start again', async (database) => {
      const rings = freshRings();
      await start(database, rings);
      await start(database, rings);
      await start(database, structuredClone(rings));
      const store = await database.node();
      try {
        assert.equal((await store.listSecretFingerprints()).length, 3);
      } finally {
        await store.close();
      }
    });

    scenario('a node that made its own secrets.json is refused, naming its data folder and the key that differs', async (database) => {
      await start(database, freshRings());
      await refused(database, freshRings(), 'endpointTokens key 1 differs');
    });

    scenario('one ring that differs is enough: a node whose tokenServer key is its own is refused', async (database) => {
      const rings = freshRings();
      await start(database, rings);
      await refused(database, { ...rings, tokenServer: [generateRingKey(1)] }, 'tokenServer key 1 differs');
    });

    scenario('the database holds fingerprints only: neither a secret nor a plain hash of one', async (database) => {
      const rings = freshRings();
      await start(database, rings);
      const store = await database.node();
      try {
        for (const row of await store.listSecretFingerprints()) {
          const key = rings[row.purpose as keyof Rings].find((candidate) => candidate.id === row.keyId);
          assert.ok(key, `${row.purpose} key ${row.keyId} is one of ours`);
          assert.notDeepEqual(row.fingerprint, key.secret);
          assert.notDeepEqual(row.fingerprint, createHash('sha256').update(key.secret).digest());
          assert.deepEqual(row.fingerprint, secretFingerprint(row.purpose, key));
        }
      } finally {
        await store.close();
      }
    });

    scenario('a rotation rolls node by node: the new key is recorded, an old secrets.json is refused, a retired key may go', async (database) => {
      const before = freshRings();
      await start(database, before);
      const rotated: Rings = { ...before, endpointTokens: [generateRingKey(2), ...before.endpointTokens] };
      await start(database, rotated, T0 + HOUR);
      // The first node restarted with the rotated file seals with key 2: a node without it would
      // answer 404 to the endpoints that node hands out.
      await refused(database, before, 'endpointTokens key 2, which other nodes seal with, is missing', T0 + 2 * HOUR);
      await start(database, rotated, T0 + 2 * HOUR);
      const retired: Rings = { ...rotated, endpointTokens: rotated.endpointTokens.slice(0, 1) };
      await start(database, retired, T0 + 3 * HOUR);
      await start(database, rotated, T0 + 4 * HOUR);
    });

    scenario('a key staged last (it opens, it does not seal) refuses no node that lacks it yet', async (database) => {
      const before = freshRings();
      await start(database, before);
      const staged: Rings = { ...before, endpointTokens: [...before.endpointTokens, generateRingKey(2)] };
      await start(database, staged, T0 + HOUR);
      await start(database, before, T0 + 2 * HOUR);
      // Promoted (moved first) on one node: from then on every node needs it.
      const promoted: Rings = { ...before, endpointTokens: [...staged.endpointTokens].reverse() };
      await start(database, promoted, T0 + 3 * HOUR);
      await refused(database, before, 'endpointTokens key 2, which other nodes seal with, is missing', T0 + 4 * HOUR);
      await start(database, staged, T0 + 4 * HOUR);
    });

    scenario('a refused node records nothing: its new keys cannot lock out the nodes that are right', async (database) => {
      const good = freshRings();
      await start(database, good);
      const wrong = freshRings();
      await refused(database, { ...wrong, endpointTokens: [generateRingKey(2), ...wrong.endpointTokens] }, 'endpointTokens key 1 differs', T0 + HOUR);
      await start(database, good, T0 + 2 * HOUR);
    });

    scenario('a node whose clock is behind still makes its new sealing key the one every node needs', async (database) => {
      const before = freshRings();
      await start(database, before, T0 + HOUR);
      const rotated: Rings = { ...before, messageIds: [generateRingKey(9), ...before.messageIds] };
      await start(database, rotated, T0);
      await refused(database, before, 'messageIds key 9, which other nodes seal with, is missing', T0 + 2 * HOUR);
    });

    scenario('two nodes with different secrets starting at once on a new database: one starts, the other is refused', async (database) => {
      const [a, b] = [freshRings(), freshRings()];
      const stores = await Promise.all([database.node(), database.node()]);
      try {
        const outcomes = await Promise.allSettled([
          checkSecretsFingerprint(stores[0] as Store, a, { dataDir: DATA_DIR, now: T0 }),
          checkSecretsFingerprint(stores[1] as Store, b, { dataDir: DATA_DIR, now: T0 }),
        ]);
        assert.deepEqual(outcomes.map((outcome) => outcome.status).sort(), ['fulfilled', 'rejected']);
        const rejected = outcomes.find((outcome) => outcome.status === 'rejected');
        assert.ok(rejected?.reason instanceof SecretsMismatchError);
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
      const winner = (await start(database, a).then(() => a, () => b));
      await start(database, winner);
    });
  });
}

const root = mkdtempSync(path.join(tmpdir(), 'herald-fingerprint-'));
after(() => rmSync(root, { recursive: true, force: true }));
let files = 0;

// SQLite has one node, but the same check catches a secrets.json replaced under an existing database.
scenarios('sqlite', () => {
  const dir = path.join(root, `case-${++files}`);
  return { node: () => openStore(`sqlite:${path.join(dir, 'herald.db')}`), drop: async () => rmSync(dir, { recursive: true, force: true }) };
});

const unreachable = await postgresUnavailable();
if (unreachable !== null && process.env.CI) {
  test('PostgreSQL is reachable for the secrets fingerprint tests', () => {
    assert.fail(`CI must run the PostgreSQL secrets fingerprint tests: ${unreachable}`);
  });
} else if (unreachable !== null) {
  test('secrets fingerprint: postgres', { skip: unreachable }, () => {});
} else {
  const admin = new pg.Pool({ connectionString: postgresUrl, max: 2 });
  admin.on('error', () => {});
  after(() => admin.end());
  scenarios('postgres', () => {
    const schema = `herald_test_${randomBytes(6).toString('hex')}`;
    const url = new URL(postgresUrl);
    url.searchParams.set('schema', schema);
    return { node: () => openStore(url.toString()), drop: async () => void (await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)) };
  });
}
