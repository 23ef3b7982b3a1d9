/**
 * A sender that cuts its upload short (closes mid-body, or sends a chunked body that does not
 * parse) is a client failure, not Herald's (docs/security.md, hardening row 8): no error log, no
 * errno 999 in the metrics, so nobody can fake internal-error alerts from outside.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { generateVapidKeyPair } from '../../../src/crypto/vapid.js';
import { captureLog } from '../../helpers/log.js';
import { CHANNEL_A, startHerald, subscribedDevice } from '../../helpers/herald.js';
import { expectStatus, post, vapidHeader } from '../../helpers/sender.js';
import { waitFor } from '../../helpers/wait.js';

/** Writes `head` and `body` raw to the endpoint's port, then closes; resolves when the socket is closed. */
function rawRequest(endpoint: string, head: string, body: string, options: { end: boolean }): Promise<string> {
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(head.replace('PATH', url.pathname).replace('HOST', url.host));
      socket.write(body);
      // Closing our side mid-body is what an aborted upload looks like to the server.
      if (options.end) setTimeout(() => socket.destroy(), 50);
    });
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', () => {});
    socket.on('close', () => resolve(answer));
    setTimeout(() => reject(new Error('the server neither answered nor closed')), 10_000).unref();
  });
}

describe('sender endpoint: uploads cut short', () => {
  it('an aborted body and a broken chunked body are not internal errors', async () => {
    const log = captureLog();
    const sender = generateVapidKeyPair();
    const running = await startHerald({ server: { metricsToken: 'm'.repeat(32) } }, undefined, { logger: log.logger });
    const { device, endpoint } = await subscribedDevice(running.wsUrl, CHANNEL_A, sender.publicKey);
    try {
      const auth = vapidHeader(running.origin, sender);
      const head = (framing: string) =>
        `POST PATH HTTP/1.1\r\nHost: HOST\r\nAuthorization: ${auth}\r\nTTL: 60\r\nContent-Encoding: aes128gcm\r\n${framing}\r\n`;
      await rawRequest(endpoint, head('Content-Length: 3000\r\n'), 'x'.repeat(100), { end: true });
      const chunked = await rawRequest(endpoint, head('Transfer-Encoding: chunked\r\n'), 'zz\r\nnot a chunk\r\n', { end: false });
      assert.match(chunked, /^HTTP\/1\.1 400/, 'a chunked body that does not parse is the client\'s error');
      // The server is fine and the subscription still works.
      await expectStatus(await post(endpoint, { Authorization: auth, TTL: '60' }), 201);
      await waitFor(async () => (await metricsText(running.origin)).includes('herald_messages_accepted_total'), 5000, 'metrics');
      const metrics = await metricsText(running.origin);
      assert.doesNotMatch(metrics, /herald_endpoint_errors_total\{errno="999"\}/);
      assert.match(metrics, /herald_endpoint_uploads_aborted_total 2/, 'counted apart, as the sender\'s failure');
      const errors = log
        .text()
        .split('\n')
        .filter((line) => line.includes('"level":50'));
      assert.deepEqual(errors, [], 'nothing is logged at error level');
    } finally {
      device.close();
      await running.stop();
    }
  });
});

async function metricsText(origin: string): Promise<string> {
  const response = await fetch(`${origin}/metrics`, { headers: { authorization: `Bearer ${'m'.repeat(32)}` } });
  return response.text();
}
