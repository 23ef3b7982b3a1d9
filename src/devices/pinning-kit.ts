/**
 * The pinning kit (`herald pins`, docs/pinning.md): the backup key Herald keeps for the next
 * certificate, and the snippets an app embeds, Android's network_security_config.xml pin-set and
 * iOS's NSPinnedDomains. Both always carry the backup pin: an app that pins only the live key
 * locks its users out at the next rotation.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const BACKUP_KEY_FILE = 'pin-backup-key.pem';

export interface BackupKey {
  file: string;
  key: KeyObject;
  created: boolean;
}

/**
 * The backup key in the data folder (0600), made once (P-256). It is in no live chain: the
 * certificate that replaces the serving one is issued for it (a CSR made from this file).
 */
export function loadOrCreateBackupKey(dataDir: string): BackupKey {
  const file = path.join(dataDir, BACKUP_KEY_FILE);
  if (existsSync(file)) return { file, key: createPrivateKey(readFileSync(file)), created: false };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // 'wx': two commands racing must not replace a key whose pin an app may already ship.
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  return { file, key: privateKey, created: true };
}

export interface PinSet {
  /** The host name the app connects to (no scheme, no port). */
  domain: string;
  includeSubdomains: boolean;
  /** base64 SHA-256 SPKI pins, live first, then the backup. */
  pins: readonly string[];
  /** Android only: after this day (YYYY-MM-DD) the pin-set is ignored (pinning fails open). */
  expiration: string;
}

/** res/xml/network_security_config.xml for Android (API 24+). */
export function androidNetworkSecurityConfig(set: PinSet): string {
  const pins = set.pins.map((pin) => `      <pin digest="SHA-256">${xml(pin)}</pin>`).join('\n');
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<!-- Made by `herald pins --android`. Reference it from AndroidManifest.xml:',
    '     <application android:networkSecurityConfig="@xml/network_security_config" ...> -->',
    '<network-security-config>',
    '  <domain-config cleartextTrafficPermitted="false">',
    `    <domain includeSubdomains="${set.includeSubdomains}">${xml(set.domain)}</domain>`,
    `    <pin-set expiration="${xml(set.expiration)}">`,
    pins,
    '    </pin-set>',
    '  </domain-config>',
    '</network-security-config>',
    '',
  ].join('\n');
}

/**
 * The NSAppTransportSecurity entry of an iOS/macOS Info.plist (iOS 14+), as a whole plist
 * document: merge its top-level dict into the app's Info.plist.
 */
export function iosPinnedDomainsPlist(set: PinSet): string {
  const identities = set.pins
    .map((pin) => ['          <dict>', '            <key>SPKI-SHA256-BASE64</key>', `            <string>${xml(pin)}</string>`, '          </dict>'].join('\n'))
    .join('\n');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '<dict>',
    '  <key>NSAppTransportSecurity</key>',
    '  <dict>',
    '    <key>NSPinnedDomains</key>',
    '    <dict>',
    `      <key>${xml(set.domain)}</key>`,
    '      <dict>',
    '        <key>NSIncludesSubdomains</key>',
    `        <${set.includeSubdomains}/>`,
    '        <key>NSPinnedLeafIdentities</key>',
    '        <array>',
    identities,
    '        </array>',
    '      </dict>',
    '    </dict>',
    '  </dict>',
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
