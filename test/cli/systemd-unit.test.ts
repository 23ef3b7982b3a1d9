/**
 * contrib/herald.service: the settings the README promises (a dedicated user, its own state
 * directory, a read-only system, no new privileges, restart on failure but not on a configuration
 * mistake, SIGHUP on reload), and `systemd-analyze verify` finds nothing wrong where it exists.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT, tempDir } from './harness.js';

const UNIT = path.join(PROJECT_ROOT, 'contrib', 'herald.service');

/** The unit's sections as `key → values` (a key may repeat), comments and blank lines dropped. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1] as string, current);
      continue;
    }
    const at = line.indexOf('=');
    assert.ok(current && at > 0, `a key=value line inside a section: ${line}`);
    const key = line.slice(0, at).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(at + 1).trim()]);
  }
  return sections;
}

describe('the systemd unit', () => {
  const unit = parseUnit(readFileSync(UNIT, 'utf8'));
  const service = unit.get('Service');
  const value = (key: string) => service?.get(key)?.at(-1);

  it('runs herald serve as a dedicated user with its state directory, configuration and data folder', () => {
    assert.equal(value('User'), 'herald');
    assert.equal(value('Group'), 'herald');
    assert.match(value('ExecStart') ?? '', /\/herald serve$/);
    assert.equal(value('StateDirectory'), 'herald');
    assert.equal(value('StateDirectoryMode'), '0700');
    assert.deepEqual(service?.get('Environment'), ['HERALD_CONFIG=/etc/herald/herald.toml', 'HERALD_DATA_DIR=/var/lib/herald', 'NODE_ENV=production']);
    assert.equal(unit.get('Install')?.get('WantedBy')?.[0], 'multi-user.target');
  });

  it('locks the service down: a read-only system, no new privileges, no capabilities', () => {
    assert.equal(value('ProtectSystem'), 'strict');
    assert.equal(value('NoNewPrivileges'), 'yes');
    assert.equal(value('ProtectHome'), 'yes');
    assert.equal(value('PrivateTmp'), 'yes');
    assert.equal(value('CapabilityBoundingSet'), '');
  });

  it('restarts after a crash but not after exit code 2, and reloads TLS with SIGHUP', () => {
    assert.equal(value('Restart'), 'on-failure');
    assert.equal(value('RestartPreventExitStatus'), '2');
    assert.equal(value('ExecReload'), '/bin/kill -HUP $MAINPID');
  });

  it('passes systemd-analyze verify (with ExecStart pointing at this checkout’s herald)', async (t) => {
    const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((file) => existsSync(file));
    if (!analyze) {
      // The settings are checked above; verify adds systemd's own reading where systemd is installed.
      t.diagnostic('systemd-analyze is not installed: the unit was checked by its keys only');
      return;
    }
    const folder = tempDir('herald-unit-');
    try {
      const copy = path.join(folder.dir, 'herald.service');
      writeFileSync(copy, readFileSync(UNIT, 'utf8').replace(/^ExecStart=\S+/m, `ExecStart=${path.join(PROJECT_ROOT, 'bin', 'herald.js')}`));
      const { stderr } = await promisify(execFile)(analyze, ['verify', copy]);
      assert.equal(stderr, '');
    } finally {
      folder.remove();
    }
  });
});
