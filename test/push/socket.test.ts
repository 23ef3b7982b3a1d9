/**
 * The device socket over a real WebSocket (protocol.md §1): framing, deadlines, close codes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { CHANNEL_A, RawDevice, startHerald, type Running } from '../helpers/herald.js';

describe('device socket', () => {
  let running: Running;

  before(async () => {
    running = await startHerald({ push: { helloTimeoutMs: 300, wsPingIntervalSeconds: 1, wsPongTimeoutSeconds: 1 } });
  });
  after(async () => running.stop());

  it('accepts the push-notification subprotocol when offered, and plain sockets too', async () => {
    const firefoxLike = await RawDevice.connect(running.wsUrl, ['push-notification']);
    assert.equal(firefoxLike.socket.protocol, 'push-notification');
    firefoxLike.close();
    const plain = await RawDevice.connect(running.wsUrl, []);
    assert.equal(plain.socket.protocol, '');
    await plain.hello();
    plain.close();
  });

  it('any path works, as Firefox is pointed at a full URL', async () => {
    const device = await RawDevice.connect(`${running.wsUrl}some/path`);
    assert.match(await device.hello(), /^[0-9a-f]{32}$/);
    device.close();
  });

  it('no hello within the deadline closes 1011', async () => {
    const device = await RawDevice.connect(running.wsUrl);
    assert.equal((await device.closed).code, 1011);
  });

  it('a binary frame closes 1003', async () => {
    const device = await RawDevice.connect(running.wsUrl);
    await device.hello();
    device.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.equal((await device.closed).code, 1003);
  });

  it('bad JSON closes 1011', async () => {
    const device = await RawDevice.connect(running.wsUrl);
    await device.hello();
    device.send('{not json');
    assert.equal((await device.closed).code, 1011);
  });

  it('a second socket for the same uaid closes the first with 1011', async () => {
    const first = await RawDevice.connect(running.wsUrl);
    const uaid = await first.hello();
    await first.register(CHANNEL_A);
    const second = await RawDevice.connect(running.wsUrl);
    assert.equal(await second.hello(uaid), uaid);
    assert.equal((await first.closed).code, 1011);
    second.close();
  });

  it('a client ping is answered with {}', async () => {
    const device = await RawDevice.connect(running.wsUrl);
    await device.hello();
    device.send({});
    assert.deepEqual(await device.next('ping'), {});
    device.send({});
    assert.equal((await device.closed).code, 1011, 'a second ping at once is too fast');
  });

  it('Herald sends WebSocket pings and closes 1011 when no pong comes back', async () => {
    const socket = new WebSocket(running.wsUrl, { autoPong: false });
    await new Promise((resolve) => socket.once('open', resolve));
    let pings = 0;
    socket.on('ping', () => pings++);
    socket.send(JSON.stringify({ messageType: 'hello', use_webpush: true }));
    const code = await new Promise<number>((resolve) => socket.once('close', (closeCode) => resolve(closeCode)));
    assert.ok(pings >= 1);
    assert.equal(code, 1011);
  });

  it('a socket that answers pings stays open', async () => {
    const device = await RawDevice.connect(running.wsUrl);
    await device.hello();
    let pings = 0;
    device.socket.on('ping', () => pings++);
    await new Promise((resolve) => setTimeout(resolve, 2600));
    assert.ok(pings >= 1);
    assert.equal(device.socket.readyState, WebSocket.OPEN);
    device.close();
  });
});
