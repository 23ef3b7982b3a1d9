/**
 * The guard in front of the routes that name no subscription (docs/security.md, hardening rows 11
 * and 14): key revocation has its own low per-source limit, message status and deletion are behind
 * bans and the per-source limit, and so is the token server.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { revocationAuthorization } from '../../src/client/revoke.js';
import { generateVapidKeyPair } from '../../src/crypto/vapid.js';
import { CHANNEL_A, startHerald, subscribedDevice } from '../helpers/herald.js';
import { expectLimited, expectStatus, post, vapidHeader } from '../helpers/sender.js';

describe('guard: requests that name no subscription', () => {
  it('one source revokes at most guard.revocationsPerSource keys per window, forged revocations included', async () => {
    const running = await startHerald({ guard: { exemptLoopback: false, revocationsPerSource: { points: 3, seconds: 3600 } } });
    try {
      const revoke = async (authorization: string) => fetch(`${running.origin}/v1/keys/revoke`, { method: 'POST', headers: { authorization } });
      for (let i = 0; i < 2; i += 1) {
        const response = await revoke(await revocationAuthorization(running.origin, generateVapidKeyPair()));
        assert.equal(response.status, 200, await response.text());
      }
      // A forged one costs a point too (counted before the signature is checked)…
      await expectStatus(await revoke('vapid t=forged, k=forged'), 401);
      // …so the next freshly generated key is refused.
      const limited = await revoke(await revocationAuthorization(running.origin, generateVapidKeyPair()));
      await expectLimited(limited.clone());
      assert.match(((await limited.json()) as { message: string }).message, /revocations/);
      const listed = await (await running.store()).listBlockedSenderKeys();
      assert.equal(listed.length, 2, 'the blocklist holds only what was admitted');
    } finally {
      await running.stop();
    }
  });

  it('the revocation limit leaves sending alone', async () => {
    const sender = generateVapidKeyPair();
    const running = await startHerald({ guard: { exemptLoopback: false, revocationsPerSource: { points: 1, seconds: 3600 } } });
    const { device, endpoint } = await subscribedDevice(running.wsUrl, CHANNEL_A, sender.publicKey);
    try {
      const revoke = async () => fetch(`${running.origin}/v1/keys/revoke`, { method: 'POST', headers: { authorization: await revocationAuthorization(running.origin, generateVapidKeyPair()) } });
      assert.equal((await revoke()).status, 200);
      await expectLimited(await revoke());
      await expectStatus(await post(endpoint, { Authorization: vapidHeader(running.origin, sender), TTL: '60' }), 201);
    } finally {
      device.close();
      await running.stop();
    }
  });

  it('GET and DELETE /m/:id refuse a banned source and count against the per-source limit', async () => {
    const forger = generateVapidKeyPair();
    const sender = generateVapidKeyPair();
    const banned = await startHerald({ guard: { exemptLoopback: false, bans: { invalidSignatures: 2 } } });
    const { device, endpoint } = await subscribedDevice(banned.wsUrl, CHANNEL_A, sender.publicKey);
    try {
      const message = `${banned.origin}/m/not-a-message-id`;
      await expectStatus(await fetch(message), 404);
      for (let i = 0; i < 2; i += 1) await expectStatus(await post(endpoint, { Authorization: vapidHeader(banned.origin, forger) }), 401);
      await expectLimited(await fetch(message));
      await expectLimited(await fetch(message, { method: 'DELETE' }));
    } finally {
      device.close();
      await banned.stop();
    }

    const limited = await startHerald({ guard: { exemptLoopback: false, perSource: { points: 3, seconds: 60 } } });
    try {
      const message = `${limited.origin}/m/not-a-message-id`;
      for (let i = 0; i < 3; i += 1) await expectStatus(await fetch(message, { method: i % 2 ? 'DELETE' : 'GET' }), 404);
      await expectLimited(await fetch(message));
    } finally {
      await limited.stop();
    }
  });

  it('the token server refuses a source past guard.tokenRequestsPerSource before checking anything', async () => {
    const running = await startHerald({ guard: { exemptLoopback: false, tokenRequestsPerSource: { points: 3, seconds: 60 } } });
    try {
      const url = `${running.origin}/1.0/push/1.0`;
      for (let i = 0; i < 3; i += 1) assert.equal((await fetch(url, { headers: { authorization: 'BrowserID nonsense' } })).status, 401);
      const refused = await fetch(url, { headers: { authorization: 'BrowserID nonsense' } });
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      const body = (await refused.json()) as { status: string; errors: Array<{ description: string }> };
      assert.equal(body.status, 'rate-limited');
      assert.match(body.errors[0]?.description ?? '', /too many requests/);
    } finally {
      await running.stop();
    }
  });
});
