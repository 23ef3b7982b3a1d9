/**
 * `herald <command> --help` (and `-h`) for every command and subcommand, and what a mistake on the
 * command line gets: one line naming it and the --help to read, exit code 2, never a stack trace.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { run as admin } from '../../src/cli/admin.js';
import { run as ca } from '../../src/cli/ca.js';
import { run as pins } from '../../src/cli/pins.js';
import { run as keys } from '../../src/cli/keys.js';
import { run as listen } from '../../src/cli/listen.js';
import { run as send } from '../../src/cli/send.js';
import { run as serve } from '../../src/cli/serve.js';
import { PROJECT_ROOT, runHerald } from './harness.js';

type Run = (argv: string[], out: (text: string) => void) => Promise<number>;
const COMMANDS: Record<string, Run> = { serve, keys, send, listen, pins, ca, admin: (argv, out) => admin(argv, (line) => out(line + '\n')) };

/** Every command and subcommand, with the flags (or subcommands) its help must name. */
const HELP: Array<[string, string[]]> = [
  ['serve', ['--config FILE', '--port N', '--host ADDRESS', '--endpoint-port N', '--admin-port N', '--public-origin URL', '--data-dir DIR', '--log-level LEVEL', '--set section.option=value', '--only PARTS', '--dev-tls']],
  ['keys', ['herald keys rotate', '[--out FILE]', 'herald keys block', 'herald keys list-blocked', 'herald keys unblock']],
  ['keys rotate', ['--config FILE', '--data-dir DIR']],
  ['keys block', ['--reason TEXT', '--config FILE', '--data-dir DIR']],
  ['keys list-blocked', ['--config FILE', '--data-dir DIR']],
  ['keys unblock', ['--reason TEXT', '--data-dir DIR']],
  ['send', ['--vapid FILE', '--ttl SECONDS', '--topic NAME', '--urgency LEVEL', '--encoding NAME']],
  ['listen', ['--server URL', '--state FILE', '--key VAPID_PUBLIC_KEY']],
  ['admin', ['herald admin nodes', 'herald admin accounts', 'herald admin bans', 'herald admin devices', 'herald admin messages', 'herald admin secrets']],
  ['admin nodes', ['herald admin nodes add', 'herald admin nodes down', 'herald admin nodes up', 'herald admin nodes list']],
  ['admin nodes add', ['--capacity N', '--config FILE', '--data-dir DIR']],
  ['admin nodes down', ['--data-dir DIR']],
  ['admin nodes up', ['--data-dir DIR']],
  ['admin nodes list', ['--data-dir DIR']],
  ['admin accounts', ['herald admin accounts rotate-signing-key']],
  ['admin accounts rotate-signing-key', ['--config FILE', '--data-dir DIR']],
  ['admin accounts sso-app', ['herald admin accounts sso-app add', 'herald admin accounts sso-app rotate-key', 'herald admin accounts sso-app list', 'herald admin accounts sso-app remove']],
  ['admin accounts sso-app add', ['--redirect-uri URL', '--origin ORIGIN', '--config FILE', '--data-dir DIR']],
  ['admin accounts sso-app rotate-key', ['--config FILE', '--data-dir DIR']],
  ['admin accounts sso-app list', ['--config FILE', '--data-dir DIR']],
  ['admin accounts sso-app remove', ['--config FILE', '--data-dir DIR']],
  ['admin bans', ['herald admin bans list', 'herald admin bans lift']],
  ['admin bans list', ['--json', '--admin-url URL', '--config FILE']],
  ['admin bans lift', ['--json', '--admin-url URL']],
  ['admin devices', ['herald admin devices stats']],
  ['admin devices stats', ['--json', '--admin-url URL', '--config FILE']],
  ['admin messages', ['herald admin messages stats']],
  ['admin messages stats', ['--json', '--admin-url URL', '--config FILE']],
  ['admin secrets', ['herald admin secrets rotate']],
  ['admin secrets rotate', ['--config FILE', '--data-dir DIR']],
  ['pins', ['--cert FILE', '--domain HOST', '--android FILE', '--ios FILE', '--expires-days N', '--json']],
  ['ca', ['herald ca init', 'herald ca issue', 'herald ca renew', 'herald ca revoke', 'herald ca list', 'herald ca crl', 'herald ca enroll-code']],
  ['ca init', ['--name NAME', '--data-dir DIR']],
  ['ca issue', ['--csr FILE', '--key-out FILE', '--app APP', '--days N', '--out FILE']],
  ['ca renew', ['--csr FILE', '--days N']],
  ['ca revoke', ['--reason TEXT']],
  ['ca list', ['--json']],
  ['ca crl', ['--out FILE']],
  ['ca enroll-code', ['--app APP', '--device ID', '--minutes N']],
];

describe('herald --help', () => {
  for (const [name, expected] of HELP) {
    it(`herald ${name} --help and -h print its usage and every flag`, async () => {
      const [command, ...path] = name.split(' ');
      const run = COMMANDS[command as string];
      assert.ok(run);
      for (const flag of ['--help', '-h']) {
        let text = '';
        assert.equal(await run([...path, flag], (chunk) => (text += chunk)), 0);
        assert.ok(text.startsWith(`herald ${name}`), `${flag}: starts with the usage line:\n${text}`);
        for (const item of expected) assert.ok(text.includes(item), `herald ${name} ${flag} names ${item}:\n${text}`);
        if (!expected[0]?.startsWith('herald ')) assert.match(text, /-h, --help/);
      }
    });
  }

  it('herald --help lists every command; herald with none prints it on stderr and exits 2', async () => {
    const help = await runHerald(['--help']);
    assert.equal(help.code, 0);
    for (const command of ['serve', 'keys', 'listen', 'send', 'admin', '--version']) assert.match(help.stdout, new RegExp(`herald ${command}`));
    const bare = await runHerald([]);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /herald serve/);
  });

  it('herald --version and -v print the version and the commit', async () => {
    const head = existsSync(path.join(PROJECT_ROOT, '.git')) ? execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PROJECT_ROOT }).toString().trim() : 'v0.1.0';
    const env = { ...process.env, SOURCE_COMMIT: '' };
    for (const flag of ['--version', '-v']) {
      const result = await runHerald([flag], { env });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `herald 0.1.0 (commit ${head})\n`);
    }
  });
});

describe('mistakes on the command line', () => {
  const cases: Array<[string[], string | RegExp]> = [
    [['serve', '--bogus'], 'herald serve: unknown option --bogus (see `herald serve --help`)'],
    [['serve', 'extra'], 'herald serve: takes no arguments (got "extra") (see `herald serve --help`)'],
    [['serve', '--port'], 'herald serve: --port needs a value (see `herald serve --help`)'],
    [['keys', 'rotate', '--bogus'], 'herald keys rotate: unknown option --bogus (see `herald keys rotate --help`)'],
    [['keys', 'frobnicate'], 'herald keys: unknown subcommand "frobnicate"; expected rotate, block, list-blocked, unblock (see `herald keys --help`)'],
    [['admin'], 'herald admin: needs a subcommand: nodes, accounts, bans, devices, messages, secrets (see `herald admin --help`)'],
    [['admin', 'nodes', 'remove'], 'herald admin nodes: unknown subcommand "remove"; expected add, down, up, list (see `herald admin nodes --help`)'],
    [['admin', 'bans', 'list', 'extra'], 'herald admin bans list: takes no arguments (got "extra") (see `herald admin bans list --help`)'],
    [['admin', 'nodes', 'add', 'push', 'not a url'], 'herald admin nodes add: expected a node URL (http, https, ws or wss) (see `herald admin nodes add --help`)'],
    [['send'], 'herald send: needs <subscription.json|endpoint> <text> (see `herald send --help`)'],
    [['send', 'a.json', 'two', 'words'], 'herald send: takes 2 arguments, got "words" too: quote text that has spaces (see `herald send --help`)'],
    [['listen', '--json'], 'herald listen: unknown option --json (see `herald listen --help`)'],
    // Commands added later join the list.
    [['frobnicate'], /^herald: unknown command "frobnicate"; expected serve, keys, send, listen, admin(, [a-z-]+)* \(see `herald --help`\)\n$/],
  ];
  it('each gets one line saying what is wrong and where to read more, exit code 2, no stack', async () => {
    // Two at a time: each is a Node process through tsx.
    for (let at = 0; at < cases.length; at += 2) {
      await Promise.all(
        cases.slice(at, at + 2).map(async ([argv, line]) => {
          const result = await runHerald(argv);
          assert.equal(result.code, 2, `herald ${argv.join(' ')}: ${result.stderr}`);
          if (typeof line === 'string') assert.equal(result.stderr, line + '\n');
          else assert.match(result.stderr, line);
          assert.equal(result.stdout, '');
        }),
      );
    }
  });
});
