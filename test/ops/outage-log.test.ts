/**
 * Logs during an outage (issue 16 item 5): the first failure once with its real cause, the rest
 * as counts, a line when the dependency is back, and error summaries that say what failed
 * whatever shape the error arrived in (pg's DatabaseError, Node's AggregateError, plain objects).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { errorSummary } from '../../src/ops/error-summary.js';
import { DependencyOutage, ThrottledLog } from '../../src/ops/outage-log.js';
import { captureLog } from '../helpers/log.js';
import { waitFor } from '../helpers/wait.js';

interface Line {
  level: number;
  msg: string;
  repeated?: number;
  failures?: number;
  error?: { name: string; message: string; code?: string };
  [key: string]: unknown;
}

const lines = (text: string): Line[] =>
  text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Line);

describe('outage logs', () => {
  it('a hundred failures of one kind log one line, then one count per window; a quiet window makes the next one news', async () => {
    const log = captureLog();
    const throttled = new ThrottledLog(log.logger, 100);
    for (let i = 0; i < 100; i++) throttled.log('error', 'storage', { errno: 201 }, 'sender endpoint failed');
    assert.equal(lines(log.text()).length, 1, 'the first at once, the others counted');
    await waitFor(() => lines(log.text()).length === 2, 1000, 'the count line');
    const count = lines(log.text())[1] as Line;
    assert.equal(count.repeated, 99);
    assert.match(count.msg, /^sender endpoint failed \(99 more within 0 s\)$/);
    // One window without repeats ends the kind; the next is logged in full again.
    await new Promise((resolve) => setTimeout(resolve, 250));
    throttled.log('error', 'storage', { errno: 201 }, 'sender endpoint failed');
    assert.equal(lines(log.text()).length, 3);
    assert.equal(lines(log.text())[2]?.repeated, undefined);
  });

  it('an outage logs its cause once, counts what it breaks, and says when the dependency is back', async () => {
    const log = captureLog();
    let answers = false;
    const outage = new DependencyOutage(new ThrottledLog(log.logger, 60_000), log.logger, {
      name: 'storage',
      effect: 'senders are answered 503',
      probe: async () => {
        if (!answers) throw new Error('still down');
      },
      probeIntervalMs: 20,
    });
    const killed = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    for (let i = 0; i < 50; i++) outage.failed(killed);
    assert.equal(outage.isDown, true);
    answers = true;
    await waitFor(() => !outage.isDown, 1000, 'the probe to find storage back');
    const logged = lines(log.text());
    assert.equal(logged.length, 3, logged.map((line) => line.msg).join(' | '));
    assert.match(logged[0]?.msg ?? '', /^storage failed: terminating connection due to administrator command; senders are answered 503/);
    assert.equal(logged[0]?.error?.code, '57P01');
    assert.equal(logged[1]?.repeated, 49, 'the rest as one count, settled when it came back');
    assert.match(logged[2]?.msg ?? '', /^storage is back after [0-9.]+ s \(50 failures meanwhile\)/);
    assert.equal(logged[2]?.level, 30);
    outage.stop();
  });

  it('error summaries carry the real message and never pino\'s type:"Object", stack:""', () => {
    const database = new pg.DatabaseError('terminating connection due to administrator command', 0, 'error');
    database.code = '57P01';
    const refused = Object.assign(new AggregateError([new Error('connect ECONNREFUSED ::1:5432'), new Error('connect ECONNREFUSED 127.0.0.1:5432')]), {
      code: 'ECONNREFUSED',
    });
    const wrapped = new Error('PostgresStore: the schema is missing or out of date', { cause: database });
    assert.deepEqual(errorSummary(database), { name: 'DatabaseError', message: 'terminating connection due to administrator command', code: '57P01' });
    assert.deepEqual(errorSummary(refused), {
      name: 'AggregateError',
      message: 'connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432',
      code: 'ECONNREFUSED',
    });
    assert.equal(errorSummary(wrapped).cause, 'terminating connection due to administrator command (57P01)');
    assert.deepEqual(errorSummary({ message: 'Connection terminated unexpectedly' }), { name: 'Error', message: 'Connection terminated unexpectedly' });
    assert.deepEqual(errorSummary({ code: 'ETIMEDOUT' }), { name: 'Error', message: 'ETIMEDOUT', code: 'ETIMEDOUT' });
    assert.equal(errorSummary('plain').message, 'plain');

    const log = captureLog();
    const outage = new DependencyOutage(new ThrottledLog(log.logger), log.logger, { name: 'storage', effect: 'x' });
    outage.failed(refused);
    assert.doesNotMatch(log.text(), /"type":"Object"|"stack":""/);
    assert.match(log.text(), /connect ECONNREFUSED 127\.0\.0\.1:5432/);
    outage.stop();
  });
});
