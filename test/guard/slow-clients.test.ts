/**
 * Issue 10 item 7: a client that stalls cannot hold a connection for ever, and one peer cannot hold
 * an unbounded number of plain HTTP connections (the per-source cap used to count only WebSockets).
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CHANNEL_A, RawDevice, startHerald, type Running } from '../helpers/herald.js';

/** A raw TCP connection to the listener, and a promise that settles when the server closes it. */
async function rawConnection(origin: string): Promise<{ socket: Socket; closed: Promise<string> }> {
  const { hostname, port } = new URL(origin);
  const socket = connect({ host: hostname, port: Number(port) });
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  const closed = new Promise<string>((resolve) => {
    socket.once('close', () => resolve(received));
    socket.once('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, closed };
}

/** Resolves with what happened first: the server closed the socket, or `ms` passed. */
function closedWithin(closed: Promise<string>, ms: number): Promise<'closed' | 'still open'> {
  return Promise.race([
    closed.then(() => 'closed' as const),
    new Promise<'still open'>((resolve) => setTimeout(() => resolve('still open'), ms).unref()),
  ]);
}

describe('slow clients and HTTP connections per source', () => {
  let running: Running;
  before(async () => {
    running = await startHerald({
      server: { port: 0, requestTimeoutSeconds: 1, idleTimeoutSeconds: 1 },
      guard: { exemptLoopback: false, maxTcpConnectionsPerSource: 4, maxConnectionsPerSource: 4 },
    });
  });
  after(() => running.stop());

  it('a request whose body never comes is cut off after server.requestTimeoutSeconds', async () => {
    const { socket, closed } = await rawConnection(running.origin);
    socket.write('POST /wpush/v1/abc HTTP/1.1\r\nHost: x\r\nTTL: 60\r\nContent-Length: 100\r\n\r\n');
    assert.equal(await closedWithin(closed, 5000), 'closed');
  });

  it('a connection that sends nothing is closed after server.idleTimeoutSeconds', async () => {
    const { closed } = await rawConnection(running.origin);
    assert.equal(await closedWithin(closed, 5000), 'closed');
  });

  it('a WebSocket idle past the HTTP timeouts stays open and still gets its messages', async () => {
    const device = await RawDevice.connect(running.wsUrl);
    try {
      await device.hello();
      const endpoint = await device.register(CHANNEL_A);
      // Longer than both HTTP timeouts (1 s): the upgraded socket is the ping's business, not theirs.
      await new Promise((resolve) => setTimeout(resolve, 2200));
      assert.equal((await fetch(endpoint, { method: 'POST', headers: { TTL: '60' } })).status, 201);
      device.ack(await device.next('notification'));
    } finally {
      device.close();
    }
  });

  it('a peer at its TCP connection cap gets the next connection closed, and is served again once one closes', async () => {
    const held = await Promise.all(Array.from({ length: 4 }, () => rawConnection(running.origin)));
    try {
      const refused = await rawConnection(running.origin);
      refused.socket.write('GET /__lbheartbeat__ HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(await closedWithin(refused.closed, 3000), 'closed');
      assert.equal(await refused.closed, '', 'nothing was answered on the refused connection');
    } finally {
      for (const { socket } of held) socket.destroy();
    }
    await Promise.all(held.map(({ closed }) => closed));
    assert.equal((await fetch(`${running.origin}/__lbheartbeat__`)).status, 200);
  });
});

describe('a trusted proxy carries many clients', () => {
  let running: Running;
  before(async () => {
    running = await startHerald({ guard: { exemptLoopback: false, trustedProxies: ['127.0.0.1'], maxTcpConnectionsPerSource: 2 } });
  });
  after(() => running.stop());

  it('its connections are not capped per peer', async () => {
    const held = await Promise.all(Array.from({ length: 5 }, () => rawConnection(running.origin)));
    try {
      const answers = await Promise.all(
        held.map(
          ({ socket, closed }) =>
            new Promise<string>((resolve) => {
              socket.on('data', (chunk: Buffer) => {
                if (chunk.toString().includes('\r\n\r\n')) resolve(chunk.toString().split('\r\n')[0] as string);
              });
              socket.write('GET /__lbheartbeat__ HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.7\r\n\r\n');
              void closed.then(() => resolve('closed'));
            }),
        ),
      );
      assert.deepEqual(answers, Array(5).fill('HTTP/1.1 200 OK'));
    } finally {
      for (const { socket } of held) socket.destroy();
    }
  });
});
