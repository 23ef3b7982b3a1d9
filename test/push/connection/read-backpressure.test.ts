/**
 * Issue 10 item 13: the session handles a socket's frames one at a time, and Herald used to read
 * whatever the device wrote meanwhile into memory (90 MB of frames raised it ~80 MB). Now it stops
 * reading while frames wait, so a device that writes faster than Herald handles waits in TCP.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { generateVapidKeyPair } from '../../../src/crypto/vapid.js';
import { newChannelId, newUaid } from '../../../src/crypto/tokens.js';
import { SessionRegistry } from '../../../src/push/connection/registry.js';
import { SocketServer } from '../../../src/push/connection/socket-server.js';
import { openStore } from '../../../src/store/open/open-store.js';
import type { Store } from '../../../src/store/types.js';
import { CHANNEL_A, RawDevice } from '../../helpers/herald.js';

const FRAME_BYTES = 60_000;
const FRAMES = 1500; // 90 MB

describe('a device socket is read no faster than its frames are handled', () => {
  let store: Store;
  let http: Server;
  let sockets: SocketServer;
  let url: string;
  /** The server side of the last accepted TCP connection: bytesRead is what Herald took in. */
  let serverSide: Socket | undefined;
  let pauses = 0;
  let pausedOnce: Promise<void>;
  let releaseSenderCheck: () => void = () => undefined;

  before(async () => {
    store = await openStore('sqlite::memory:');
    const registry = new SessionRegistry();
    // The sender-key check of a register finishes only when the test says so: a slow store write.
    const senderCheck = new Promise<boolean>((resolve) => (releaseSenderCheck = () => resolve(false)));
    let signalPause: () => void = () => undefined;
    pausedOnce = new Promise((resolve) => (signalPause = resolve));
    sockets = new SocketServer(
      {
        store,
        now: () => Date.now(),
        newUaid,
        newChannelId,
        endpointFor: (_uaid, channelId) => `http://127.0.0.1/wpush/v1/${channelId}`,
        claimDevice: (uaid, session) => registry.claim(uaid, session),
        releaseDevice: (uaid, session) => registry.release(uaid, session),
        broadcasts: () => ({}),
        isSenderKeyBlocked: () => senderCheck,
      },
      {
        msgLimit: 150,
        batchSize: 10,
        clientPingIntervalMs: 45_000,
        helloTimeoutMs: 5000,
        wsPingIntervalMs: 300_000,
        wsPongTimeoutMs: 30_000,
        maxFrameBytes: 64 * 1024,
        perMessageDeflate: false,
      },
      {
        readsPaused: () => {
          pauses++;
          signalPause();
        },
      },
    );
    http = createServer();
    http.on('connection', (socket) => (serverSide = socket));
    sockets.attach(http);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/`;
  });

  after(async () => {
    releaseSenderCheck();
    await sockets.close();
    await new Promise((resolve) => http.close(resolve));
    await store.close();
  });

  it('90 MB written behind a register still being handled stay in TCP, and are all handled once it finishes', async () => {
    const device = await RawDevice.connect(url);
    try {
      await device.hello();
      device.send({ messageType: 'register', channelID: CHANNEL_A, key: generateVapidKeyPair().publicKey });
      // Acks that name nothing: no answer and no storage, only bytes to hold.
      const frame = JSON.stringify({ messageType: 'ack', updates: [], padding: 'x'.repeat(FRAME_BYTES) });
      let flushed = 0;
      const allFlushed = new Promise<void>((resolve, reject) => {
        for (let i = 0; i < FRAMES; i++) {
          device.socket.send(frame, (error) => {
            if (error) reject(error);
            else if (++flushed === FRAMES) resolve();
          });
        }
      });
      // A server that reads everything lets the client flush all 90 MB; one that pauses does not.
      const first = await Promise.race([allFlushed.then(() => 'all flushed'), pausedOnce.then(() => 'paused')]);
      assert.equal(first, 'paused', `Herald read ${serverSide?.bytesRead ?? 0} bytes while a register was still being handled`);
      // Give a server that resumed too early the time to read on; one that is paused reads nothing.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const readWhileHeld = serverSide?.bytesRead ?? 0;
      assert.ok(readWhileHeld < 2 * 1024 * 1024, `Herald read ${readWhileHeld} bytes while a register was still being handled`);
      assert.ok(flushed < FRAMES, 'the client could not write everything: the rest waits on its side');

      releaseSenderCheck();
      assert.equal((await device.next('register', 10_000)).status, 200);
      await allFlushed;
      device.send({});
      await device.next('ping', 30_000);
      assert.ok((serverSide?.bytesRead ?? 0) > FRAMES * FRAME_BYTES, 'every frame was read in the end');
      assert.ok(pauses >= 1);
    } finally {
      device.close();
    }
  });
});
