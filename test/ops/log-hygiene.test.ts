/**
 * Logs carry no payloads, tokens, device ids or secrets at info level: a whole send/receive flow,
 * including failures, is logged into memory and searched for each of them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CHANNEL_A, RawDevice, startHerald } from '../helpers/herald.js';
import { captureLog } from '../helpers/log.js';

describe('log hygiene', () => {
  it('an info-level log of a full flow holds no uaid, channelID, token, payload or secret', async () => {
    const log = captureLog();
    const running = await startHerald({}, undefined, { logger: log.logger });
    const { wsUrl: connectionUrl, dataDir } = running;
    try {
      const device = await RawDevice.connect(connectionUrl);
      const uaid = await device.hello();
      const endpoint = await device.register(CHANNEL_A);
      const token = endpoint.split('/').pop() as string;
      const payload = Buffer.from('a very secret payload').toString('base64url');
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { TTL: '60', 'Content-Encoding': 'aesgcm', Encryption: 'salt=AAAAAAAAAAAAAAAAAAAAAA' },
        body: Buffer.from('a very secret payload'),
      });
      assert.equal(response.status, 201);
      const location = response.headers.get('location') as string;
      device.ack(await device.next('notification'));
      await fetch(`${endpoint}x`, { method: 'POST', headers: { TTL: '60' } });
      await fetch(endpoint, { method: 'POST', headers: { TTL: '-1' } });
      device.send('{"messageType":"bogus"}');
      await device.closed;

      const secrets = JSON.parse(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')) as {
        endpointTokens: Array<{ secret: string }>;
      };
      assert.match(log.text(), /Herald listening/);
      for (const [name, value] of Object.entries({
        uaid,
        channelID: CHANNEL_A,
        token,
        messageId: location.split('/').pop() as string,
        payload,
        payloadText: 'very secret',
        secret: secrets.endpointTokens[0]?.secret as string,
      })) {
        assert.equal(log.text().includes(value), false, `the log contains the ${name}`);
      }
    } finally {
      await running.stop();
    }
  });
});
