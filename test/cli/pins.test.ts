/**
 * `herald pins` (issue 13 item 4, docs/pinning.md): the pins it prints are the ones openssl
 * computes from the same files, the backup key is made once (0600) and is not the serving key,
 * and the Android and iOS snippets carry both pins in the shapes those platforms read.
 */
import assert from 'node:assert/strict';
import { execFileSync, execSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run as pins } from '../../src/cli/pins.js';
import { ensureDevCertificate } from '../../src/server/dev-tls.js';

let dir: string;
let certFile: string;

/** RFC 7469's recipe, run by openssl. */
function opensslPin(pubkeyCommand: string): string {
  return execSync(`${pubkeyCommand} | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`, { encoding: 'utf8' }).trim();
}

async function runPins(argv: string[]): Promise<string> {
  let text = '';
  assert.equal(await pins(['--data-dir', dir, '--cert', certFile, ...argv], (chunk) => (text += chunk)), 0);
  return text;
}

/** Text of every `<tag …>…</tag>` in an XML document. */
function elements(xml: string, tag: string): Array<{ attributes: string; text: string }> {
  return [...xml.matchAll(new RegExp(`<${tag}((?:\\s[^>]*)?)>([^<]*)</${tag}>`, 'g'))].map((match) => ({ attributes: match[1] ?? '', text: match[2] ?? '' }));
}

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'herald-pins-'));
  certFile = (await ensureDevCertificate(dir)).certFile;
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('herald pins', () => {
  it('prints the pin of the serving certificate and of a backup key, both equal to what openssl computes', async () => {
    const { serving, backup } = JSON.parse(await runPins(['--json'])) as { serving: string; backup: string };
    assert.equal(serving, opensslPin(`openssl x509 -in ${certFile} -pubkey -noout`));
    const backupFile = path.join(dir, 'pin-backup-key.pem');
    assert.equal(backup, opensslPin(`openssl pkey -in ${backupFile} -pubout`));
    assert.notEqual(serving, backup);
    assert.equal(statSync(backupFile).mode & 0o777, 0o600);
    const text = await runPins([]);
    assert.match(text, new RegExp(`^pin-sha256="${serving.replace(/[+/]/g, '\\$&')}"   serving certificate`, 'm'));
    assert.match(text, new RegExp(`^pin-sha256="${backup.replace(/[+/]/g, '\\$&')}"   backup key`, 'm'));
    // Made once: a second run keeps the key an app may already ship.
    assert.equal((JSON.parse(await runPins(['--json'])) as { backup: string }).backup, backup);
  });

  it('--android writes a network_security_config.xml pin-set with an expiration and both SHA-256 pins', async () => {
    const { serving, backup } = JSON.parse(await runPins(['--json'])) as { serving: string; backup: string };
    const file = path.join(dir, 'network_security_config.xml');
    await runPins(['--android', file, '--domain', 'push.example.com', '--expires-days', '90']);
    const xml = readFileSync(file, 'utf8');
    assert.match(xml, /^<\?xml version="1.0" encoding="utf-8"\?>/);
    assert.match(xml, /<network-security-config>[\s\S]*<domain-config[^>]*>[\s\S]*<\/domain-config>[\s\S]*<\/network-security-config>/);
    assert.deepEqual(elements(xml, 'domain').map((domain) => domain.text), ['push.example.com']);
    const pinSet = /<pin-set expiration="(\d{4}-\d{2}-\d{2})">([\s\S]*?)<\/pin-set>/.exec(xml);
    assert.ok(pinSet, xml);
    const expected = new Date(Date.now() + 90 * 86_400_000).toISOString().slice(0, 10);
    assert.equal(pinSet[1], expected);
    const pinsInSet = elements(pinSet[2] ?? '', 'pin');
    assert.deepEqual(pinsInSet.map((pin) => pin.text), [serving, backup]);
    for (const pin of pinsInSet) assert.equal(pin.attributes.trim(), 'digest="SHA-256"');
  });

  it('--ios writes an NSPinnedDomains Info.plist entry that parses, with both pins', async () => {
    const { serving, backup } = JSON.parse(await runPins(['--json'])) as { serving: string; backup: string };
    const file = path.join(dir, 'pins.plist');
    await runPins(['--ios', file, '--domain', 'push.example.com', '--include-subdomains']);
    let parsed: unknown;
    if (has('plutil')) parsed = JSON.parse(execFileSync('plutil', ['-convert', 'json', '-o', '-', file], { encoding: 'utf8' }));
    else if (has('python3')) {
      parsed = JSON.parse(execFileSync('python3', ['-c', 'import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1],"rb"))))', file], { encoding: 'utf8' }));
    }
    const expected = {
      NSAppTransportSecurity: {
        NSPinnedDomains: {
          'push.example.com': {
            NSIncludesSubdomains: true,
            NSPinnedLeafIdentities: [{ 'SPKI-SHA256-BASE64': serving }, { 'SPKI-SHA256-BASE64': backup }],
          },
        },
      },
    };
    if (parsed !== undefined) assert.deepEqual(parsed, expected);
    else {
      const plist = readFileSync(file, 'utf8');
      assert.match(plist, /<!DOCTYPE plist[^>]*>\s*<plist version="1.0">\s*<dict>[\s\S]*<\/dict>\s*<\/plist>\s*$/);
      assert.deepEqual(elements(plist, 'string').map((entry) => entry.text), [serving, backup]);
    }
  });

  it('refuses without a certificate, and without a host for the snippets', async () => {
    await assert.rejects(pins(['--data-dir', dir], () => {}), /--cert FILE or tls\.cert/);
    await assert.rejects(pins(['--data-dir', dir, '--cert', certFile, '--android', path.join(dir, 'x.xml')], () => {}), /--domain HOST/);
  });
});
