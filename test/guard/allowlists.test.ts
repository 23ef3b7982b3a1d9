/**
 * Network allowlists per listener (issue 13 item 6, docs/devices.md): a client outside a
 * listener's server.allowedNetworks gets 403 errno 28 over HTTP and a refused WebSocket upgrade,
 * counted in a metric; its address comes from the peer, or from X-Forwarded-For only when a
 * trusted proxy sent it.
 */
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import ipaddr from 'ipaddr.js';
import { ConfigError } from '../../src/config/load.js';
import { NetworkAllowlist } from '../../src/guard/allowlist.js';
import { RawDevice, startHerald, type Running } from '../helpers/herald.js';

/** The status a WebSocket upgrade is answered with (101 when it opened). */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, ['push-notification'], { headers });
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', (error) => reject(error));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function refusedCount(running: Running, listener: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${running.herald.listeners.adminPort}/metrics`)).text();
  const match = new RegExp(`^herald_guard_network_refused_total\\{listener="${listener}"\\} (\\d+)$`, 'm').exec(text);
  return Number(match?.[1] ?? 0);
}

describe('network allowlists', () => {
  it('a loopback client outside the device list gets 403 errno 28 and a refused upgrade, counted; a spoofed X-Forwarded-For changes nothing', async () => {
    const running = await startHerald({ server: { adminPort: 0, allowedNetworks: { devices: ['10.0.0.0/8', 'fd00::/8'] } } });
    try {
      const response = await fetch(`${running.origin}/__heartbeat__`);
      assert.equal(response.status, 403);
      const body = (await response.json()) as { code: number; errno: number; message: string };
      assert.equal(body.code, 403);
      assert.equal(body.errno, 28);
      assert.doesNotMatch(body.message, /10\.0|fd00/);
      // Not a trusted proxy: the header is not believed.
      const spoofed = await fetch(`${running.origin}/__heartbeat__`, { headers: { 'x-forwarded-for': '10.1.2.3' } });
      assert.equal(spoofed.status, 403);
      assert.equal(await upgradeStatus(running.wsUrl), 403);
      assert.equal(await upgradeStatus(running.wsUrl, { 'x-forwarded-for': '10.1.2.3' }), 403);
      assert.equal(await refusedCount(running, 'devices'), 4);
      // The admin listener has no list of its own: it still answers.
      assert.equal((await fetch(`http://127.0.0.1:${running.herald.listeners.adminPort}/__heartbeat__`)).status, 200);
    } finally {
      await running.stop();
    }
  });

  it('a client inside the list is served, over HTTP and WebSocket', async () => {
    const running = await startHerald({ server: { allowedNetworks: { devices: ['127.0.0.0/8'] } } });
    try {
      assert.equal((await fetch(`${running.origin}/__heartbeat__`)).status, 200);
      const device = await RawDevice.connect(running.wsUrl);
      assert.match(await device.hello(), /^[0-9a-f]{32}$/);
      device.close();
    } finally {
      await running.stop();
    }
  });

  it('behind a trusted proxy the forwarded client address is the one checked', async () => {
    const running = await startHerald({
      server: { allowedNetworks: { devices: ['10.0.0.0/8'] } },
      guard: { trustedProxies: ['127.0.0.1'] },
    });
    try {
      const status = async (forwarded?: string) =>
        (await fetch(`${running.origin}/__heartbeat__`, { headers: forwarded ? { 'x-forwarded-for': forwarded } : {} })).status;
      assert.equal(await status('10.1.2.3'), 200);
      assert.equal(await status('203.0.113.9'), 403);
      // The client is the rightmost address the trusted proxy did not add itself.
      assert.equal(await status('10.9.9.9, 203.0.113.9'), 403);
      assert.equal(await status(), 403, 'the proxy itself is not in the list');
      assert.equal(await upgradeStatus(running.wsUrl, { 'x-forwarded-for': '10.1.2.3' }), 101);
      assert.equal(await upgradeStatus(running.wsUrl, { 'x-forwarded-for': '198.51.100.1' }), 403);
    } finally {
      await running.stop();
    }
  });

  it('an IPv6 listener checks IPv6 networks', async () => {
    const refused = await startHerald({ server: { host: '::1', allowedNetworks: { devices: ['127.0.0.0/8', 'fd00::/8'] } } });
    const served = await startHerald({ server: { host: '::1', allowedNetworks: { devices: ['::1/128'] } } });
    try {
      assert.equal((await fetch(`http://[::1]:${refused.herald.listeners.connectionPort}/__heartbeat__`)).status, 403);
      assert.equal((await fetch(`http://[::1]:${served.herald.listeners.connectionPort}/__heartbeat__`)).status, 200);
    } finally {
      await refused.stop();
      await served.stop();
    }
  });

  it('the endpoint and admin listeners have lists of their own', async () => {
    const running = await startHerald({
      server: { endpointPort: await freePort(), adminPort: 0, allowedNetworks: { endpoint: ['192.0.2.0/24'], admin: ['::1'] } },
    });
    try {
      const { endpointPort, connectionPort, adminPort } = running.herald.listeners;
      assert.notEqual(endpointPort, connectionPort);
      const endpoint = await fetch(`http://127.0.0.1:${endpointPort}/wpush/v2/anything`, { method: 'POST', headers: { TTL: '60' } });
      assert.equal(endpoint.status, 403);
      assert.equal(((await endpoint.json()) as { errno: number }).errno, 28);
      assert.equal((await fetch(`http://127.0.0.1:${connectionPort}/__heartbeat__`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${adminPort}/metrics`)).status, 403);
    } finally {
      await running.stop();
    }
  });

  it('an endpoint list without a separate endpoint port is a configuration error', async () => {
    await assert.rejects(startHerald({ server: { allowedNetworks: { endpoint: ['10.0.0.0/8'] } } }), ConfigError);
  });

  it('lists match IPv4, IPv6, single addresses and IPv4-mapped forms', () => {
    const list = new NetworkAllowlist(['10.0.0.0/8', '2001:db8::/32', '192.0.2.7', '::ffff:198.51.100.0/120']);
    const allows = (address: string) => list.allows(ipaddr.process(address));
    assert.ok(allows('10.200.1.1'));
    assert.ok(allows('::ffff:10.1.1.1'));
    assert.ok(allows('2001:db8:1::5'));
    assert.ok(allows('192.0.2.7'));
    assert.ok(allows('198.51.100.200'));
    assert.ok(!allows('192.0.2.8'));
    assert.ok(!allows('2001:db9::1'));
    assert.ok(!allows('11.0.0.1'));
    assert.ok(!list.allows(null));
    assert.ok(new NetworkAllowlist([]).allows(null), 'an empty list is open');
  });
});
