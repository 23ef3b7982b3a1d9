/**
 * The device's side of the socket protocol, seen from a scripted server: what it says in hello,
 * how it acks, and what it does with duplicates and undecryptable messages.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { backoffDelay } from '../../src/client/backoff.js';
import { DeliveryError, PushDevice } from '../../src/client/device.js';
import { collect, deviceFor, nextEvent, tempDir } from './harness.js';
import { waitFor } from '../helpers/wait.js';

type Frame = Record<string, unknown>;

/** A server that answers hello and register like Herald, and records every frame it gets. */
class ScriptedServer {
  readonly frames: Frame[] = [];
  readonly sockets: WebSocket[] = [];
  private readonly wss: WebSocketServer;
  uaid = 'a'.repeat(32);

  constructor() {
    this.wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'push-notification' });
    this.wss.on('connection', (socket) => {
      this.sockets.push(socket);
      socket.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as Frame;
        this.frames.push(frame);
        if (frame.messageType === 'hello') {
          socket.send(JSON.stringify({ messageType: 'hello', uaid: this.uaid, status: 200, use_webpush: true, broadcasts: {} }));
        } else if (frame.messageType === 'register') {
          const channelID = frame.channelID as string;
          socket.send(JSON.stringify({ messageType: 'register', channelID, status: 200, pushEndpoint: `http://127.0.0.1/wpush/v1/${channelID}` }));
        }
      });
    });
  }

  listening(): Promise<void> {
    return new Promise((resolve) => (this.wss.address() ? resolve() : this.wss.once('listening', () => resolve())));
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/`;
  }

  send(frame: Frame): void {
    const socket = this.sockets.at(-1);
    assert.ok(socket);
    socket.send(JSON.stringify(frame));
  }

  acks(): Array<{ channelID: string; version: string; code: number }> {
    return this.frames
      .filter((frame) => frame.messageType === 'ack')
      .flatMap((frame) => frame.updates as Array<{ channelID: string; version: string; code: number }>);
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

describe('the device side of the socket protocol', () => {
  let server: ScriptedServer;
  const folder = tempDir();

  before(async () => {
    server = new ScriptedServer();
    await server.listening();
  });
  after(async () => {
    await server.close();
    folder.remove();
  });

  it('a device without channels asks for a fresh uaid; with channels it sends the stored one', async (t) => {
    const stateFile = path.join(folder.dir, 'hello.json');
    const device = deviceFor(t, { serverUrl: server.url, stateFile });
    await device.connect();
    const firstHello = server.frames.find((frame) => frame.messageType === 'hello');
    assert.equal(firstHello?.uaid, undefined);
    assert.equal(firstHello?.use_webpush, true);
    await device.register();
    await device.close();

    server.frames.length = 0;
    const again = deviceFor(t, { serverUrl: server.url, stateFile });
    await again.connect();
    const secondHello = server.frames.find((frame) => frame.messageType === 'hello');
    assert.equal(secondHello?.uaid, server.uaid);
    assert.equal((secondHello?.channelIDs as string[]).length, 1);
    await again.close();
  });

  it('a message repeated on one connection reaches the application once, and each copy is acked', async (t) => {
    const device = deviceFor(t, { serverUrl: server.url });
    await device.connect();
    const channelID = (await register(device)).channelID;
    const messages = collect(device, 'notification');
    server.frames.length = 0;
    server.send({ messageType: 'notification', channelID, version: 'v-1', ttl: 60 });
    server.send({ messageType: 'notification', channelID, version: 'v-1', ttl: 60 });
    server.send({ messageType: 'notification', channelID, version: 'v-2', ttl: 60 });
    await waitFor(() => server.acks().length === 3, 3000, 'three acks');
    assert.deepEqual(
      messages.map((message) => [message.version, message.payload]),
      [
        ['v-1', null],
        ['v-2', null],
      ],
    );
    assert.deepEqual(
      server.acks().map((ack) => ack.code),
      [100, 100, 100],
    );
    await device.close();
  });

  it('a message that does not decrypt is acked 101 and reported, and the device carries on', async (t) => {
    const device = deviceFor(t, { serverUrl: server.url });
    await device.connect();
    const channelID = (await register(device)).channelID;
    server.frames.length = 0;
    const failure = nextEvent(device, 'error');
    server.send({
      messageType: 'notification',
      channelID,
      version: 'broken',
      ttl: 60,
      data: Buffer.alloc(120, 7).toString('base64url'),
      headers: { encoding: 'aes128gcm' },
    });
    const error = await failure;
    assert.ok(error instanceof DeliveryError);
    assert.equal(error.ackCode, 101);
    await waitFor(() => server.acks().length === 1, 3000, 'the ack');
    assert.deepEqual(server.acks(), [{ channelID, version: 'broken', code: 101 }]);

    const unknown = nextEvent(device, 'error');
    server.send({ messageType: 'notification', channelID: '00000000-0000-4000-8000-000000000000', version: 'stray', ttl: 60 });
    assert.equal(((await unknown) as DeliveryError).ackCode, 102);
    await device.close();
  });

  it('close() stops the device for good: no reconnect follows', async (t) => {
    const device = deviceFor(t, { serverUrl: server.url, reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
    const connections = collect(device, 'connected');
    await device.connect();
    await device.close();
    // An absence has no event to wait for: five times the longest reconnect delay is long enough.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(connections.length, 1);
    await assert.rejects(device.register(), /not connected/);
  });

  it('a first connect to nothing fails instead of retrying forever', async (t) => {
    const device = deviceFor(t, { serverUrl: 'ws://127.0.0.1:1/' });
    await assert.rejects(device.connect());
  });

  it('backoff grows to its ceiling and keeps jitter within half of it', () => {
    assert.equal(backoffDelay(0, 1000, 60_000, () => 0), 500);
    assert.equal(backoffDelay(0, 1000, 60_000, () => 1), 1000);
    assert.equal(backoffDelay(3, 1000, 60_000, () => 1), 8000);
    assert.equal(backoffDelay(40, 1000, 60_000, () => 0), 30_000);
    assert.equal(backoffDelay(40, 1000, 60_000, () => 1), 60_000);
  });
});

async function register(device: PushDevice): Promise<{ channelID: string }> {
  const subscription = await device.register();
  const channel = device.channels().find((entry) => entry.subscription.endpoint === subscription.endpoint);
  assert.ok(channel);
  return { channelID: channel.channelID };
}
