/**
 * The conformance scenarios of device certificates and enrollment codes (migration 5), run by
 * runStoreConformance against every backend.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe } from 'node:test';
import type { Store } from '../../src/store/types.js';

const T0 = 1_700_000_000_000;
const DAY = 86_400_000;

type Scenario = (title: string, body: (store: Store) => Promise<void>) => void;

const certificate = (serial: string, deviceId: string, issuedAt = T0) => ({ serial, deviceId, app: 'com.example.app', issuedAt, expiresAt: issuedAt + 30 * DAY });
const codeHash = () => createHash('sha256').update(randomBytes(16)).digest();

export function certificateScenarios(scenario: Scenario): void {
  describe('device certificates', () => {
    scenario('a recorded certificate reads back, valid, and a serial cannot be recorded twice', async (store) => {
      await store.recordDeviceCertificate(certificate('0a1b2c', 'sensor-1'));
      assert.deepEqual(await store.getDeviceCertificate('0a1b2c'), { ...certificate('0a1b2c', 'sensor-1'), revokedAt: null, revocationReason: null });
      assert.equal(await store.getDeviceCertificate('ffff'), null);
      await assert.rejects(store.recordDeviceCertificate(certificate('0a1b2c', 'sensor-2')));
    });

    scenario('revocation is recorded once, with its first time and reason', async (store) => {
      await store.recordDeviceCertificate({ ...certificate('01', 'phone'), app: null });
      assert.equal(await store.revokeDeviceCertificate('01', 'key lost', T0 + DAY), true);
      assert.equal(await store.revokeDeviceCertificate('01', 'again', T0 + 2 * DAY), false);
      assert.equal(await store.revokeDeviceCertificate('02', 'unknown', T0), false);
      const revoked = await store.getDeviceCertificate('01');
      assert.equal(revoked?.revokedAt, T0 + DAY);
      assert.equal(revoked?.revocationReason, 'key lost');
      assert.equal(revoked?.app, null);
    });

    scenario('the list is in issue order', async (store) => {
      await store.recordDeviceCertificate(certificate('03', 'c', T0 + 2));
      await store.recordDeviceCertificate(certificate('01', 'a', T0));
      await store.recordDeviceCertificate(certificate('02', 'b', T0 + 1));
      assert.deepEqual((await store.listDeviceCertificates()).map((record) => record.deviceId), ['a', 'b', 'c']);
    });
  });

  describe('enrollment codes', () => {
    scenario('a code is taken once', async (store) => {
      const hash = codeHash();
      await store.createEnrollmentCode({ codeHash: hash, app: 'com.example.app', deviceId: 'sensor-7', createdAt: T0, expiresAt: T0 + 900_000 });
      const taken = await store.consumeEnrollmentCode(hash, T0 + 1000);
      assert.equal(taken?.app, 'com.example.app');
      assert.equal(taken?.deviceId, 'sensor-7');
      assert.ok(taken?.codeHash.equals(hash));
      assert.equal(await store.consumeEnrollmentCode(hash, T0 + 2000), null);
    });

    scenario('an expired code is refused (and gone), an unknown one too', async (store) => {
      const hash = codeHash();
      await store.createEnrollmentCode({ codeHash: hash, app: 'a', deviceId: null, createdAt: T0, expiresAt: T0 + 900_000 });
      assert.equal(await store.consumeEnrollmentCode(hash, T0 + 900_000), null);
      assert.equal(await store.consumeEnrollmentCode(codeHash(), T0), null);
    });

    scenario('of two takes racing with one code, one gets it', async (store) => {
      const hash = codeHash();
      await store.createEnrollmentCode({ codeHash: hash, app: 'a', deviceId: null, createdAt: T0, expiresAt: T0 + 900_000 });
      const results = await Promise.all([store.consumeEnrollmentCode(hash, T0), store.consumeEnrollmentCode(hash, T0)]);
      assert.equal(results.filter((result) => result !== null).length, 1);
    });
  });
}
