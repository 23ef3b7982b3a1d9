/**
 * UDP wake-up (docs/wakeup.md) against a real Herald on loopback: the client library sleeps
 * without a socket and is woken by Herald's datagram, forged/stale/replayed datagrams are
 * ignored, datagrams are rate-limited, refused from networks not allowed, and never sent to a
 * connected device.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { sendNotification } from '../../../src/client/sender.js';
import type { DeviceState } from '../../../src/client/state.js';
import { fromBase64Url } from '../../../src/crypto/base64.js';
import { encodeWakeupDatagram, openWakeupDatagram } from '../../../src/crypto/wakeup.js';
import { deviceFor, nextEvent, tempDir } from '../../client/harness.js';
import { CHANNEL_A, RawDevice, startHerald, type Running } from '../../helpers/herald.js';
import { sendUdp, udpTap } from '../../helpers/udp.js';
import { waitFor, within } from '../../helpers/wait.js';

const LOOPBACK = { allowedNetworks: ['127.0.0.0/8', '::1/128'] };

/** Wake-up attempts Herald counted, by outcome. */
async function wakeups(running: Running): Promise<Record<string, number>> {
  const metric = await running.herald.metrics.wakeupDatagrams.get();
  return Object.fromEntries(metric.values.map((value) => [String(value.labels.outcome), value.value]));
}

async function totalWakeups(running: Running): Promise<number> {
  return Object.values(await wakeups(running)).reduce((sum, n) => sum + n, 0);
}

/** An empty-bodied push to a v1 endpoint (no VAPID, no encryption needed). */
async function push(endpoint: string): Promise<void> {
  const response = await fetch(endpoint, { method: 'POST', headers: { TTL: '300' } });
  assert.equal(response.status, 201, await response.text());
}

/** A raw device that declares `wakeup`, registers one v1 channel and hangs up. */
async function registeredAwayDevice(running: Running, wakeup: unknown): Promise<{ endpoint: string; answer: Record<string, unknown> }> {
  const raw = await RawDevice.connect(running.wsUrl);
  raw.send({ messageType: 'hello', use_webpush: true, wakeup });
  const hello = await raw.next('hello');
  const endpoint = await raw.register(CHANNEL_A);
  raw.close();
  await raw.closed;
  await waitFor(() => running.herald.connectedDevices === 0, 5000, 'the device to be gone');
  return { endpoint, answer: hello.wakeup as Record<string, unknown> };
}

describe('UDP wake-up with the client library', () => {
  const folders: Array<{ remove(): void }> = [];
  const running: Running[] = [];
  after(async () => {
    for (const herald of running) await herald.stop();
    for (const folder of folders) folder.remove();
  });

  // A device or socket left open by a failed assertion would keep the file from ever ending:
  // each test closes what it opened whatever happens (deviceFor, t.after).
  it('a sleeping device is woken by a genuine datagram, reconnects and receives the stored message', async (t) => {
    const herald = await startHerald({ push: { wakeup: LOOPBACK } });
    running.push(herald);
    const folder = tempDir();
    folders.push(folder);
    const device = deviceFor(t, { serverUrl: herald.wsUrl, stateFile: path.join(folder.dir, 'device.json'), wakeup: { host: '127.0.0.1', port: 0 } });
    const connected = nextEvent(device, 'connected');
    await device.connect();
    assert.deepEqual((await connected).wakeup, { status: 200 });
    const subscription = await device.register();
    await device.sleep();
    assert.equal(device.connected, false);

    const woken = nextEvent(device, 'wakeup');
    const arrival = nextEvent(device, 'notification');
    const result = await sendNotification(subscription, 'come and fetch', { ttl: 300 });
    assert.equal(result.status, 201, result.body);
    assert.equal((await woken).accepted, true);
    assert.equal((await arrival).payload?.toString(), 'come and fetch');
    assert.equal(device.connected, true);
    assert.deepEqual(await wakeups(herald), { sent: 1 });
    await device.close();
  });

  it('forged, stale and replayed datagrams are ignored, and the device stays asleep', async (t) => {
    const herald = await startHerald({ push: { wakeup: LOOPBACK } });
    running.push(herald);
    const folder = tempDir();
    folders.push(folder);
    const stateFile = path.join(folder.dir, 'device.json');

    // 1. The device registers, then lets go of its port; a tap takes the port and catches the
    //    datagram Herald sends for a message stored meanwhile.
    const first = deviceFor(t, { serverUrl: herald.wsUrl, stateFile, wakeup: { host: '127.0.0.1', port: 0 } });
    await first.connect();
    const subscription = await first.register();
    const port = first.wakeupAddress?.port as number;
    await first.close();
    const tap = createSocket('udp4');
    t.after(() => {
      try {
        tap.close();
      } catch {
        // closed by the test already
      }
    });
    const caught = new Promise<Buffer>((resolve) => tap.once('message', resolve));
    await new Promise<void>((resolve) => tap.bind(port, '127.0.0.1', () => resolve()));
    assert.equal((await sendNotification(subscription, 'stored while away', { ttl: 300 })).status, 201);
    const genuine = await within(caught, 5000, 'the datagram for the message stored while away');
    await new Promise<void>((resolve) => tap.close(() => resolve()));

    // 2. The device comes back on the same port (and drains at hello), then sleeps.
    const device = deviceFor(t, { serverUrl: herald.wsUrl, stateFile, wakeup: { host: '127.0.0.1', port } });
    const drained = nextEvent(device, 'notification');
    await device.connect();
    assert.equal((await drained).payload?.toString(), 'stored while away');
    await device.sleep();

    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as DeviceState;
    assert.ok(state.wakeup, 'the state file keeps the wake-up key');
    const key = fromBase64Url(state.wakeup.key) as Buffer;
    const fields = openWakeupDatagram(genuine, key);
    assert.ok(fields, 'Herald MACs the datagram with the key it handed the device');
    assert.equal(genuine.length, 52);
    assert.equal(genuine.includes(Buffer.from(state.uaid as string)), false, 'no uaid in the datagram');

    const judged: unknown[] = [];
    device.on('wakeup', (verdict) => judged.push(verdict));
    const judge = async (datagram: Buffer) => {
      const before = judged.length;
      await sendUdp(datagram, port);
      await waitFor(() => judged.length > before, 5000, 'the device to judge the datagram');
      return judged.at(-1);
    };

    const now = Date.now();
    const forged = encodeWakeupDatagram({ keyId: fields.keyId, timestamp: now, counter: fields.counter + 10n }, randomBytes(32));
    assert.deepEqual(await judge(forged), { accepted: false, reason: 'forged' });
    const altered = Buffer.from(genuine);
    altered[19] = (altered[19] as number) ^ 1; // the counter's last byte
    assert.deepEqual(await judge(altered), { accepted: false, reason: 'forged' });
    const stale = encodeWakeupDatagram({ keyId: fields.keyId, timestamp: now - 61_000, counter: fields.counter + 10n }, key);
    assert.deepEqual(await judge(stale), { accepted: false, reason: 'stale' });
    const otherKeyId = encodeWakeupDatagram({ keyId: (fields.keyId + 1) % 256, timestamp: now, counter: fields.counter + 10n }, key);
    assert.deepEqual(await judge(otherKeyId), { accepted: false, reason: 'unknown-key' });
    assert.deepEqual(await judge(Buffer.from('wake up!')), { accepted: false, reason: 'malformed' });
    assert.equal(device.connected, false);
    assert.equal(herald.herald.connectedDevices, 0, 'no rejected datagram made the device connect');

    // 3. Herald's own datagram, first seen now: genuine, it wakes the device. Sent again: a replay.
    const reconnected = nextEvent(device, 'connected');
    assert.deepEqual(await judge(genuine), { accepted: true, counter: fields.counter });
    await reconnected;
    await device.sleep();
    assert.deepEqual(await judge(genuine), { accepted: false, reason: 'replayed' });
    const older = encodeWakeupDatagram({ keyId: fields.keyId, timestamp: Date.now(), counter: fields.counter - 1n }, key);
    assert.deepEqual(await judge(older), { accepted: false, reason: 'replayed' });
    assert.equal(device.connected, false);
    assert.equal(herald.herald.connectedDevices, 0);

    // The counter survives the device's restart (it is in the state file): still a replay.
    const persisted = JSON.parse(readFileSync(stateFile, 'utf8')) as DeviceState;
    assert.equal(persisted.wakeup?.lastCounter, fields.counter.toString());
    await device.close();
  });
});

describe('UDP wake-up on the server side', () => {
  const stops: Array<() => Promise<void>> = [];
  after(async () => {
    for (const stop of stops) await stop();
  });

  async function started(wakeup: Record<string, unknown>): Promise<Running> {
    const herald = await startHerald({ push: { wakeup } });
    stops.push(() => herald.stop());
    return herald;
  }

  async function tap() {
    const t = await udpTap();
    stops.push(() => t.close());
    return t;
  }

  it('datagrams to one device are rate-limited', async () => {
    const herald = await started({ ...LOOPBACK, minIntervalSeconds: 3600 });
    const listener = await tap();
    const { endpoint, answer } = await registeredAwayDevice(herald, { host: '127.0.0.1', port: listener.port });
    assert.equal(answer.status, 200);
    for (let i = 0; i < 3; i++) await push(endpoint);
    await waitFor(async () => (await totalWakeups(herald)) === 3, 5000, 'three wake-up attempts');
    assert.deepEqual(await wakeups(herald), { sent: 1, 'rate-limited': 2 });
    await waitFor(() => listener.datagrams.length === 1, 5000, 'the one datagram');
  });

  it('a connected device gets its message on the socket and no datagram', async () => {
    const herald = await started(LOOPBACK);
    const listener = await tap();
    const raw = await RawDevice.connect(herald.wsUrl);
    raw.send({ messageType: 'hello', use_webpush: true, wakeup: { host: '127.0.0.1', port: listener.port } });
    assert.equal(((await raw.next('hello')).wakeup as { status: number }).status, 200);
    const endpoint = await raw.register(CHANNEL_A);
    await push(endpoint);
    raw.ack(await raw.next('notification'));
    // Then away: the next message wakes it. Being the first datagram shows none came before.
    raw.close();
    await raw.closed;
    await waitFor(() => herald.herald.connectedDevices === 0, 5000, 'the device to be gone');
    await push(endpoint);
    await waitFor(() => listener.datagrams.length === 1, 5000, 'the datagram for the away device');
    assert.deepEqual(await wakeups(herald), { sent: 1 });
  });

  it('the wake-up address survives a restart of Herald', async () => {
    const first = await startHerald({ push: { wakeup: LOOPBACK } });
    const listener = await tap();
    const { endpoint, answer } = await registeredAwayDevice(first, { host: '127.0.0.1', port: listener.port });
    await first.stop({ keepData: true });
    const second = await startHerald({ push: { wakeup: LOOPBACK } }, first.dataDir);
    stops.push(() => second.stop());
    await push(second.origin + new URL(endpoint).pathname);
    await waitFor(() => listener.datagrams.length === 1, 5000, 'the datagram after the restart');
    const key = fromBase64Url(answer.key as string) as Buffer;
    assert.ok(openWakeupDatagram(listener.datagrams[0] as Buffer, key), 'the MAC is made with the key handed before the restart');
  });

  it('a device on a network not allowed is told so, keeps its socket, and is never woken', async () => {
    const herald = await started({ allowedNetworks: ['10.0.0.0/8'] });
    const listener = await tap();
    const { endpoint, answer } = await registeredAwayDevice(herald, { host: '127.0.0.1', port: listener.port });
    assert.deepEqual(answer, { status: 403, error: 'wake-up is not accepted from the network this socket comes from' });
    await push(endpoint);
    await waitFor(async () => (await totalWakeups(herald)) === 1, 5000, 'the wake-up attempt');
    assert.deepEqual(await wakeups(herald), { 'no-address': 1 });
    assert.equal(listener.datagrams.length, 0);
  });

  it('with wake-up off (the default) a declaration is refused and nothing is sent', async () => {
    const herald = await started({});
    const listener = await tap();
    const { endpoint, answer } = await registeredAwayDevice(herald, { host: '127.0.0.1', port: listener.port });
    assert.deepEqual(answer, { status: 403, error: 'UDP wake-up is not enabled on this server' });
    await push(endpoint);
    assert.deepEqual(await wakeups(herald), {});
  });

  it('a host other than the socket peer is refused: Herald sends no datagram at third parties', async () => {
    const herald = await started(LOOPBACK);
    const raw = await RawDevice.connect(herald.wsUrl);
    raw.send({ messageType: 'hello', use_webpush: true, wakeup: { host: '127.0.0.2', port: 9 } });
    assert.deepEqual((await raw.next('hello')).wakeup, { status: 403, error: 'wakeup host must be the address this socket comes from' });
    raw.close();
  });

  it('a malformed wakeup answers 400 and the hello and socket work as usual', async () => {
    const herald = await started(LOOPBACK);
    const bad: unknown[] = [
      'udp://127.0.0.1:9',
      null,
      [],
      { host: '127.0.0.1' },
      { host: '127.0.0.1', port: 0 },
      { host: '127.0.0.1', port: 65536 },
      { host: '127.0.0.1', port: 9.5 },
      { host: '127.0.0.1', port: '9' },
      { host: 'localhost', port: 9 },
      { host: '0x7f.1', port: 9 },
      { host: '127.0.0.1', port: 9, uaid: 'x' },
    ];
    for (const wakeup of bad) {
      const raw = await RawDevice.connect(herald.wsUrl);
      raw.send({ messageType: 'hello', use_webpush: true, wakeup });
      const hello = await raw.next('hello');
      assert.equal(hello.status, 200);
      assert.deepEqual(hello.wakeup, { status: 400, error: 'wakeup must be {"host": <IP address>, "port": <1-65535>}' }, JSON.stringify(wakeup));
      assert.match(await raw.register(CHANNEL_A), /\/wpush\/v1\//);
      raw.close();
    }
    const broadcast = await RawDevice.connect(herald.wsUrl);
    broadcast.send({ messageType: 'hello', use_webpush: true, wakeup: { host: '255.255.255.255', port: 9 } });
    assert.deepEqual((await broadcast.next('hello')).wakeup, { status: 400, error: 'wakeup host must be a unicast address' });
    broadcast.close();
  });

  it('a hello without wakeup withdraws the address, so the device is not woken any more', async () => {
    const herald = await started(LOOPBACK);
    const listener = await tap();
    const raw = await RawDevice.connect(herald.wsUrl);
    raw.send({ messageType: 'hello', use_webpush: true, wakeup: { host: '127.0.0.1', port: listener.port } });
    const uaid = (await raw.next('hello')).uaid as string;
    const endpoint = await raw.register(CHANNEL_A);
    raw.close();
    await raw.closed;
    assert.ok(await (await herald.store()).getWakeupAddress(uaid));

    const again = await RawDevice.connect(herald.wsUrl);
    assert.equal(await again.hello(uaid), uaid);
    again.close();
    await again.closed;
    await waitFor(() => herald.herald.connectedDevices === 0, 5000, 'the device to be gone');
    assert.equal(await (await herald.store()).getWakeupAddress(uaid), null);
    await push(endpoint);
    await waitFor(async () => (await totalWakeups(herald)) === 1, 5000, 'the wake-up attempt');
    assert.deepEqual(await wakeups(herald), { 'no-address': 1 });
  });
});
