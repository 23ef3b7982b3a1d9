/**
 * Listener layout: the connection and endpoint listeners on separate ports, /metrics only on the
 * admin listener when one is configured (protocol.md §3: nothing internal on public listeners),
 * and never open on a public port (issue 10 item 16).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { CHANNEL_A, RawDevice, startHerald } from './helpers/herald.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('listeners', () => {
  it('separate connection, endpoint and admin ports each serve only their part', async () => {
    const [endpointPort, adminPort] = [await freePort(), await freePort()];
    const running = await startHerald({ server: { port: 0, endpointPort, adminPort } });
    try {
      const { connectionPort } = running.herald.listeners;
      assert.notEqual(connectionPort, endpointPort);
      assert.equal(running.origin, `http://127.0.0.1:${endpointPort}`);

      const device = await RawDevice.connect(running.wsUrl);
      await device.hello();
      const endpoint = await device.register(CHANNEL_A);
      assert.ok(endpoint.startsWith(`http://127.0.0.1:${endpointPort}/wpush/v1/`));

      const response = await fetch(endpoint, { method: 'POST', headers: { TTL: '60' } });
      assert.equal(response.status, 201);
      device.ack(await device.next('notification'));
      device.close();

      // The sender endpoint is not on the device port, and devices cannot connect to the endpoint port.
      const onDevicePort = endpoint.replace(`:${endpointPort}/`, `:${connectionPort}/`);
      assert.equal((await fetch(onDevicePort, { method: 'POST', headers: { TTL: '60' } })).status, 404);
      const refused = new WebSocket(`ws://127.0.0.1:${endpointPort}/`);
      const outcome = await new Promise<string>((resolve) => {
        refused.once('open', () => resolve('open'));
        refused.once('error', () => resolve('refused'));
      });
      assert.equal(outcome, 'refused');

      // /metrics is on the admin port only.
      assert.equal((await fetch(`http://127.0.0.1:${adminPort}/metrics`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${connectionPort}/metrics`)).status, 404);
      assert.equal((await fetch(`http://127.0.0.1:${endpointPort}/metrics`)).status, 404);
      assert.equal((await fetch(`http://127.0.0.1:${endpointPort}/__heartbeat__`)).status, 200);
    } finally {
      await running.stop();
    }
  });

  it('without an admin listener /metrics is not served on the public port', async () => {
    const running = await startHerald();
    try {
      const answer = await fetch(`${running.origin}/metrics`);
      assert.equal(answer.status, 404);
      assert.doesNotMatch(await answer.text(), /herald_/);
    } finally {
      await running.stop();
    }
  });

  it('with server.metricsToken /metrics answers only the bearer of that token, on the public port', async () => {
    const token = 'a-metrics-token-of-at-least-32-characters';
    const running = await startHerald({ server: { port: 0, metricsToken: token } });
    try {
      const url = `${running.origin}/metrics`;
      assert.equal((await fetch(url)).status, 404, 'no token');
      assert.equal((await fetch(url, { headers: { authorization: `Bearer ${token}x` } })).status, 404, 'a longer token');
      assert.equal((await fetch(url, { headers: { authorization: `Bearer ${token.slice(0, -1)}` } })).status, 404, 'a prefix of it');
      assert.equal((await fetch(url, { headers: { authorization: `Basic ${token}` } })).status, 404, 'another scheme');
      const answer = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(answer.status, 200);
      assert.match(await answer.text(), /herald_connections \d+/);
    } finally {
      await running.stop();
    }
  });

  it('a metrics token shorter than 32 characters stops the start, naming the option', async () => {
    await assert.rejects(startHerald({ server: { port: 0, metricsToken: 'short' } }), /server\.metricsToken/);
  });
});
