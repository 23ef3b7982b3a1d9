/** The wake-up part on its own, with a real in-memory store and a real UDP socket on loopback. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fromBase64Url } from '../../../src/crypto/base64.js';
import { generateRingKey, KeyRing } from '../../../src/crypto/keyring.js';
import { openWakeupDatagram } from '../../../src/crypto/wakeup.js';
import { WakeupService } from '../../../src/push/wakeup/service.js';
import { openStore } from '../../../src/store/open/open-store.js';
import type { Store } from '../../../src/store/types.js';
import { udpTap } from '../../helpers/udp.js';
import { waitFor } from '../../helpers/wait.js';
import { newUaid, registerDevice } from '../../store/conformance.js';

const OPTIONS = { allowedNetworks: ['127.0.0.0/8'], hostMustMatchPeer: true, minIntervalSeconds: 1 };
const T0 = 1_800_000_000_000;

describe('the wake-up service', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  async function setup(ring: KeyRing, now: () => number = () => T0) {
    const store = await openStore('sqlite::memory:');
    const service = new WakeupService({ store, ring, now }, OPTIONS);
    cleanups.push(async () => {
      await service.close();
      await store.close().catch(() => undefined);
    });
    return { store, service };
  }

  async function tap() {
    const listener = await udpTap();
    cleanups.push(() => listener.close());
    return listener;
  }

  async function declared(store: Store, service: WakeupService, port: number) {
    const { uaid } = await registerDevice(store);
    const result = await service.hello({ uaid, value: { host: '127.0.0.1', port }, peerAddress: '127.0.0.1', recorded: true });
    assert.equal(result.answer?.status, 200);
    return { uaid, key: fromBase64Url((result.answer as { key: string }).key) as Buffer };
  }

  it('a storage failure while keeping the address answers 500 and lets the hello go on', async () => {
    const { store, service } = await setup(new KeyRing([generateRingKey(1)], 'endpoint-token'));
    await store.close();
    const result = await service.hello({ uaid: newUaid(), value: { host: '127.0.0.1', port: 9 }, peerAddress: '127.0.0.1', recorded: true });
    assert.deepEqual(result, {
      answer: { status: 500, error: 'the wake-up address could not be stored; try again on the next hello' },
      pending: null,
    });
  });

  it('an address accepted before the first register waits in the session, not in storage', async () => {
    const { store, service } = await setup(new KeyRing([generateRingKey(1)], 'endpoint-token'));
    const uaid = newUaid();
    const result = await service.hello({ uaid, value: { host: '127.0.0.1', port: 9 }, peerAddress: '127.0.0.1', recorded: false });
    assert.equal(result.answer?.status, 200);
    assert.deepEqual(result.pending, { host: '127.0.0.1', port: 9, keyId: 1, updatedAt: T0 });
    assert.equal(await store.getDevice(uaid), null);
    assert.equal(await store.getWakeupAddress(uaid), null);
  });

  it('after a rotation the device is still woken with the key it holds, until that ring key is removed', async () => {
    const old = generateRingKey(1);
    const listener = await tap();
    const first = await setup(new KeyRing([old], 'endpoint-token'));
    const { uaid, key } = await declared(first.store, first.service, listener.port);

    const rotated = new WakeupService({ store: first.store, ring: new KeyRing([generateRingKey(2), old], 'endpoint-token'), now: () => T0 }, OPTIONS);
    cleanups.push(() => rotated.close());
    assert.equal(await rotated.wake(uaid), 'sent');
    await waitFor(() => listener.datagrams.length === 1, 5000, 'the datagram');
    assert.equal(openWakeupDatagram(listener.datagrams[0] as Buffer, key)?.keyId, 1);

    const retired = new WakeupService({ store: first.store, ring: new KeyRing([generateRingKey(2)], 'endpoint-token'), now: () => T0 }, OPTIONS);
    cleanups.push(() => retired.close());
    assert.equal(await retired.wake(uaid), 'key-retired');
  });

  it('counters keep growing across a restart of Herald, so the device does not take them for replays', async () => {
    const ring = new KeyRing([generateRingKey(1)], 'endpoint-token');
    const listener = await tap();
    let now = T0;
    const first = await setup(ring, () => now);
    const devices: Array<{ uaid: string; key: Buffer }> = [];
    for (let i = 0; i < 3; i++) devices.push(await declared(first.store, first.service, listener.port));
    // Three datagrams in the same millisecond, then a "restarted" service one millisecond later.
    for (const device of devices) assert.equal(await first.service.wake(device.uaid), 'sent');
    now += 1;
    const restarted = new WakeupService({ store: first.store, ring, now: () => now }, OPTIONS);
    cleanups.push(() => restarted.close());
    const device = devices[0] as { uaid: string; key: Buffer };
    assert.equal(await restarted.wake(device.uaid), 'sent');
    await waitFor(() => listener.datagrams.length === 4, 5000, 'four datagrams');
    const counters = listener.datagrams.map(
      (datagram) => devices.map((d) => openWakeupDatagram(datagram, d.key)).find((fields) => fields !== null)?.counter,
    );
    assert.equal(new Set(counters).size, 4, 'every counter is distinct');
    const ofDevice = listener.datagrams.map((datagram) => openWakeupDatagram(datagram, device.key)).filter((fields) => fields !== null);
    assert.equal(ofDevice.length, 2);
    assert.ok((ofDevice[1]?.counter as bigint) > (ofDevice[0]?.counter as bigint));
  });
});
