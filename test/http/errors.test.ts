/**
 * The one error vocabulary (src/http/errors.ts): a table renders its errors, one handler turns
 * whatever a route or fastify throws into one of them, and failures are told apart by code name.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { envelopeErrors, handleErrors, type HttpError } from '../../src/http/errors.js';

const shop = envelopeErrors('https://example.com/errors', {
  soldOut: { status: 410, errno: 7, message: 'Sold out' },
  busy: { status: 503, errno: 8, message: 'Busy' },
  slowDown: { status: 429, errno: 9, message: 'Slow down' },
  invalid: { status: 400, errno: 10, message: 'Invalid request' },
  broken: { status: 500, errno: 11, message: 'Internal error' },
  missing: { status: 404, errno: 12, message: 'Not found' },
});
const other = envelopeErrors('https://example.com/other', { soldOut: { status: 410, errno: 7, message: 'Sold out' } });

describe('the shared error vocabulary', () => {
  let app: FastifyInstance;
  const seen: Array<{ code: string; thrown: unknown }> = [];
  before(async () => {
    app = Fastify();
    await app.register(async (scope) => {
      handleErrors(scope, shop, {
        requestError: () => shop.error('invalid'),
        internalError: () => shop.error('broken'),
        notFound: () => shop.error('missing'),
        failed: (error, _request, thrown) => {
          seen.push({ code: error.code, thrown });
        },
      });
      scope.get('/gone', async () => {
        throw shop.error('soldOut', { detail: 'come back tomorrow' });
      });
      scope.get('/busy', async () => {
        throw shop.error('busy');
      });
      scope.get('/slow', async () => {
        throw shop.error('slowDown', { retryAfterSeconds: 2.2 });
      });
      scope.get('/bug', async () => {
        throw new TypeError('undefined is not a function');
      });
      scope.post('/json', async () => 'never');
    });
    await app.ready();
  });
  after(() => app.close());

  it('a thrown table error is answered in the envelope, with the status reason phrase and the table page', async () => {
    const answer = await app.inject({ url: '/gone' });
    assert.equal(answer.statusCode, 410);
    assert.equal(answer.headers['cache-control'], 'max-age=86400');
    assert.deepEqual(answer.json(), {
      code: 410,
      errno: 7,
      error: 'Gone',
      message: 'Sold out: come back tomorrow',
      more_info: 'https://example.com/errors',
    });
  });

  it('429 and 503 carry Retry-After in whole seconds: the error\'s own, else 30', async () => {
    assert.equal((await app.inject({ url: '/busy' })).headers['retry-after'], '30');
    assert.equal((await app.inject({ url: '/slow' })).headers['retry-after'], '3');
  });

  it("fastify's own refusal of a request becomes the table's request error, anything else its internal error", async () => {
    const unparsable = await app.inject({ method: 'POST', url: '/json', headers: { 'content-type': 'application/json' }, payload: '{' });
    assert.equal(unparsable.statusCode, 400);
    assert.equal(unparsable.json().errno, 10);
    const bug = await app.inject({ url: '/bug' });
    assert.equal(bug.statusCode, 500);
    assert.equal(bug.json().errno, 11);
    assert.equal(bug.json().message, 'Internal error', 'the bug is not told to the client');
    const told = seen.find((entry) => entry.code === 'broken');
    assert.ok(told?.thrown instanceof TypeError, 'the failed hook sees what was thrown, for the log');
  });

  it('an unknown route is answered from the table', async () => {
    const answer = await app.inject({ url: '/nowhere' });
    assert.equal(answer.statusCode, 404);
    assert.equal(answer.json().errno, 12);
  });

  it('errors are classified by code name, within their own table only', () => {
    const error: HttpError = shop.error('soldOut');
    assert.equal(shop.is(error), true);
    assert.equal(shop.is(error, 'soldOut'), true);
    assert.equal(shop.is(error, 'busy', 'slowDown'), false);
    assert.equal(other.is(error, 'soldOut'), false, 'the same name in another table is another error');
    assert.equal(shop.is(new Error('Sold out')), false);
  });
});
