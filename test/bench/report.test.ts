/**
 * The comparison table of `npm run bench`: each Herald figure is divided by the best peer's figure of
 * the same run, where "best" depends on the figure's direction.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DrainResult, E2eResult, IdleResult, ScaleResult } from '../../bench/peers/phases.js';
import { buildRows, formatComparison, markdownComparison, type TargetResults } from '../../bench/peers/report.js';
import type { TargetName } from '../../bench/peers/types.js';

function e2e(messagesPerSecond: number, p99: number): E2eResult {
  return {
    description: '',
    runs: [],
    messagesPerSecond,
    cpuMicrosPerMessage: 1e6 / messagesPerSecond,
    ownCpuMicrosPerMessage: 1e6 / messagesPerSecond,
    serverCpuShare: 1,
    generatorCpuShare: 0.5,
    otherCpuShare: 0,
    latency: { ratePerSecond: messagesPerSecond / 2, messages: 100, p50: p99 / 4, p99, max: p99, maxOutstanding: 1, achievedPerSecond: messagesPerSecond / 2, keptPace: true, attempts: 1 },
  };
}

const drain = (drainSeconds: number): DrainResult => ({ description: '', runs: [], drainSeconds, drainCpuMicrosPerMessage: 10, storePerSecond: 1000 });
const idle = (kib: number): IdleResult => ({ description: '', connections: 10_000, rssBeforeBytes: 0, rssAfterBytes: kib * 1024 * 10_000, perConnectionBytes: kib * 1024, connectPerSecond: 1000 });
const scale = (connectedAtLast: number): ScaleResult => ({
  description: '',
  capacity: { connections: connectedAtLast, why: 'test' },
  steps: [
    { devices: 1000, connected: 1000, rssBytes: 10 * 2 ** 20, perConnectionBytes: Number.NaN, messagesPerSecond: 100, cpuMicrosPerMessage: 50 },
    { devices: 50_000, connected: connectedAtLast, rssBytes: 20 * 2 ** 20, perConnectionBytes: (10 * 2 ** 20) / (connectedAtLast - 1000), messagesPerSecond: 100, cpuMicrosPerMessage: 60 },
  ],
});

const targets: TargetName[] = ['herald-sqlite', 'herald-pg', 'mosquitto', 'nchan'];
const results: Partial<Record<TargetName, TargetResults>> = {
  'herald-sqlite': { e2e: e2e(5000, 10), drain: drain(3), idle: idle(6), scale: scale(19_000), errors: {} },
  'herald-pg': { e2e: e2e(1000, 40), drain: drain(8), errors: { idle: 'failed' } },
  mosquitto: { e2e: e2e(20_000, 50), drain: drain(0.5), idle: idle(1), scale: scale(19_000), errors: {} },
  nchan: { e2e: e2e(25_000, 5), drain: drain(0.25), idle: idle(12), scale: scale(50_000), errors: {} },
};

describe('bench comparison table', () => {
  const rows = buildRows(results, targets, [1000, 50_000]);
  const row = (figure: string) => {
    const found = rows.find((r) => r.figure.startsWith(figure));
    assert.ok(found, `row ${figure}`);
    return found;
  };

  it('divides a rate by the highest peer rate and a latency by the lowest peer latency', () => {
    assert.equal(row('e2e messages/s').bestPeer, 'nchan');
    assert.equal(row('e2e messages/s').ratios['herald-sqlite'], 5000 / 25_000);
    assert.equal(row('latency p99').bestPeer, 'nchan');
    assert.equal(row('latency p99').ratios['herald-pg'], 40 / 5);
    assert.equal(row('RSS per idle connection').bestPeer, 'mosquitto');
    assert.equal(row('RSS per idle connection').ratios['herald-sqlite'], 6);
  });

  it('leaves out what a target did not measure, and gives explanatory rows no ratio', () => {
    assert.equal(row('RSS per idle connection').values['herald-pg'], undefined);
    assert.equal(row('RSS per idle connection').ratios['herald-pg'], undefined);
    assert.deepEqual(row('load generator CPU').ratios, {});
  });

  it('reports the scale step a single-process target reached, not the one asked for', () => {
    assert.equal(row('  connected of 50k').values.mosquitto, 19_000);
    assert.equal(row('  connected of 50k').values.nchan, 50_000);
  });

  it('prints a ratio column per Herald target only when a peer ran', () => {
    assert.match(formatComparison(rows, targets).split('\n')[0]!, /herald-sqlite ÷ best peer \| herald-pg ÷ best peer/);
    const heraldOnly = buildRows(results, ['herald-sqlite'], [1000]);
    assert.doesNotMatch(formatComparison(heraldOnly, ['herald-sqlite']), /best peer/);
    assert.match(markdownComparison(rows, targets), /\| e2e messages\/s \(1,000 subscribers\) \| msg\/s \| 5,000 \| 1,000 \| 20,000 \| 25,000 \| 0\.20× nchan \| 0\.04× nchan \|/);
  });
});
