/** The per-socket frame budgets (guard.framesPerSocket, guard.registrationsPerSocket) on a plain clock. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameBudget } from '../../../src/push/protocol/frame-budget.js';

describe('frame budget of one socket', () => {
  it('allows a burst of `points` register/unregister frames, then refills at points per seconds', () => {
    const budget = new FrameBudget({ registrations: { points: 3, seconds: 60 } }, 0);
    for (const type of ['register', 'unregister', 'register'] as const) assert.equal(budget.spend(type, 0), null);
    assert.match(budget.spend('register', 0) ?? '', /too many register\/unregister frames/);
    assert.match(budget.spend('unregister', 19_999) ?? '', /too many/, 'one point takes 20 s to come back');
    assert.equal(budget.spend('unregister', 20_000), null);
  });

  it('acks and pings do not spend the register budget, only the budget of every frame', () => {
    const budget = new FrameBudget({ frames: { points: 5, seconds: 1 }, registrations: { points: 1, seconds: 60 } }, 0);
    assert.equal(budget.spend('register', 0), null);
    for (let i = 0; i < 4; i++) assert.equal(budget.spend('ack', 0), null);
    assert.match(budget.spend('ack', 0) ?? '', /too many frames/);
    assert.equal(budget.spend('ping', 200), null, 'a second refills five frames');
  });

  it('points = 0 or no window: no limit', () => {
    const budget = new FrameBudget({ frames: { points: 0, seconds: 1 } }, 0);
    for (let i = 0; i < 10_000; i++) assert.equal(budget.spend('register', 0), null);
  });
});
