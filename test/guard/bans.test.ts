/**
 * Threat 3, heuristic bans: a source that sends too many invalid signatures or too many requests
 * to dead endpoints is refused for a cool-down, the ban shows in `herald admin bans` (through the
 * admin listener only) and expires by itself. The cool-down runs on a clock the test moves.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { run as adminBans } from '../../src/cli/admin-bans.js';
import { generateVapidKeyPair } from '../../src/crypto/vapid.js';
import { ManualClock } from '../helpers/clock.js';
import { CHANNEL_A, RawDevice, startHerald, subscribedDevice, type Running } from '../helpers/herald.js';
import { expectLimited, expectStatus, post, vapidHeader, type VapidKeys } from '../helpers/sender.js';

const sender = generateVapidKeyPair();
const forger = generateVapidKeyPair();
const vapid = (origin: string, keys: VapidKeys = sender) => vapidHeader(origin, keys);

async function bansOn(running: Running): Promise<Array<{ source: string; reason: string; remainingSeconds: number }>> {
  const response = await fetch(`http://127.0.0.1:${running.herald.listeners.adminPort}/admin/bans`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { bans: Array<{ source: string; reason: string; remainingSeconds: number }> }).bans;
}

describe('heuristic bans', () => {
  let running: Running;
  let device: RawDevice;
  let endpoint: string;
  const clock = new ManualClock();
  before(async () => {
    running = await startHerald(
      {
        server: { adminPort: 0 },
        guard: { exemptLoopback: false, bans: { invalidSignatures: 3, deadEndpoints: 4, windowSeconds: 30, coolDownSeconds: 2 } },
      },
      undefined,
      { now: clock.now },
    );
    ({ device, endpoint } = await subscribedDevice(running.wsUrl, CHANNEL_A, sender.publicKey));
  });
  after(async () => {
    device.close();
    await running.stop();
  });

  it('a source sending forged signatures is banned, listed by herald admin bans, and served again after the cool-down', async () => {
    const forged = { Authorization: vapid(running.origin, forger) };
    for (let i = 0; i < 3; i++) await expectStatus(await post(endpoint, forged), 401);
    // The threshold is reached: even a correctly signed message from this source is refused now.
    const retryAfter = await expectLimited(await post(endpoint, { Authorization: vapid(running.origin) }));
    assert.ok(retryAfter <= 2, `cool-down is 2 s, Retry-After said ${retryAfter}`);

    const listed = await bansOn(running);
    assert.deepEqual(
      listed.map((ban) => [ban.source, ban.reason]),
      [['4:127.0.0.1', 'invalid-signatures']],
    );
    let printed = '';
    const code = await adminBans(['--admin-url', `http://127.0.0.1:${running.herald.listeners.adminPort}`], (text) => {
      printed += text;
    });
    assert.equal(code, 0);
    assert.match(printed, /^4:127\.0\.0\.1\tinvalid-signatures\tuntil \S+ \(\d+ s\)\n$/);

    clock.advance(retryAfter * 1000);
    await expectStatus(await post(endpoint, { Authorization: vapid(running.origin) }), 201);
    assert.deepEqual(await bansOn(running), []);
  });

  it('a source probing dead and forged endpoints is banned for the cool-down', async () => {
    // The previous ban has expired but its strikes window has not: use the dead-endpoint counter.
    const forgedToken = `${running.origin}/wpush/v1/${'A'.repeat(60)}`;
    for (let i = 0; i < 4; i++) await expectStatus(await post(forgedToken), 404);
    await expectLimited(await post(endpoint, { Authorization: vapid(running.origin) }));
    assert.equal((await bansOn(running))[0]?.reason, 'dead-endpoints');
    clock.advance(2000);
    await expectStatus(await post(endpoint, { Authorization: vapid(running.origin) }), 201);
  });

  it('the ban list is served on the admin listener only, never on the public one', async () => {
    const response = await fetch(`${running.origin}/admin/bans`);
    assert.equal(response.status, 404);
  });
});

describe('bans and loopback', () => {
  let running: Running;
  before(async () => {
    running = await startHerald({ server: { adminPort: 0 }, guard: { bans: { invalidSignatures: 2, coolDownSeconds: 60 } } });
  });
  after(() => running.stop());

  it('loopback senders are never banned while exemptLoopback is on', async () => {
    const { device, endpoint } = await subscribedDevice(running.wsUrl, CHANNEL_A, sender.publicKey);
    for (let i = 0; i < 5; i++) await expectStatus(await post(endpoint, { Authorization: vapid(running.origin, forger) }), 401);
    await expectStatus(await post(endpoint, { Authorization: vapid(running.origin) }), 201);
    assert.deepEqual(await bansOn(running), []);
    device.close();
  });
});
