/** `/__version__` names the commit Herald runs from: the checkout's HEAD when it runs from git. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHerald, type Running } from '../helpers/herald.js';
import { PROJECT_ROOT } from './harness.js';

describe('/__version__', () => {
  let running: Running;
  before(async () => {
    running = await startHerald();
  });
  after(() => running.stop());

  it('answers the name, the version, the source and the real commit', async () => {
    const version = (await (await fetch(`${running.origin}/__version__`)).json()) as Record<string, string>;
    const expected =
      process.env.SOURCE_COMMIT ||
      (existsSync(path.join(PROJECT_ROOT, '.git')) ? execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PROJECT_ROOT }).toString().trim() : 'v0.1.0');
    assert.deepEqual(version, { name: 'herald', version: '0.1.0', source: 'https://github.com/herald-push/herald', commit: expected });
    assert.match(version.commit as string, /^([0-9a-f]{40}|v\d+\.\d+\.\d+)$/);
  });
});
