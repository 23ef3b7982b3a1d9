/**
 * `herald admin devices stats` and `herald admin messages stats`: counts from a running node's
 * admin listener (GET /admin/devices/stats, /admin/messages/stats). Counts only: no id, address or
 * payload ever leaves Herald this way.
 */
import type { DeviceStatsView, MessageStatsView } from '../push/admin-routes.js';
import { adminListener, callAdmin, failed, LISTENER_FLAGS } from './admin-listener.js';
import { defineCommand, parseCommand, runGroup, stdout, type GroupSpec, type Out } from './command-line.js';

const DEVICES_STATS = defineCommand({
  name: 'admin devices stats',
  summary: 'Counts devices, channels, devices with stored messages, the largest backlog, and sockets open to this node.',
  flags: LISTENER_FLAGS,
  notes: ['Asks a running node over its admin listener (server.adminPort). The counts scan the tables: not for polling.'],
});

const MESSAGES_STATS = defineCommand({
  name: 'admin messages stats',
  summary: 'Counts stored messages waiting for their device, their bytes, expired ones the next sweep deletes, and the age of the oldest.',
  flags: LISTENER_FLAGS,
  notes: ['Asks a running node over its admin listener (server.adminPort). The counts scan the tables: not for polling.'],
});

const DEVICES: GroupSpec = {
  name: 'admin devices',
  summary: 'Device counts from a running node (needs server.adminPort or --admin-url).',
  subcommands: { stats: { usage: 'stats [--json]', summary: 'device, channel and backlog counts', run: (argv, out) => stats(DEVICES_STATS, '/admin/devices/stats', argv, out) } },
};

const MESSAGES: GroupSpec = {
  name: 'admin messages',
  summary: 'Stored message counts from a running node (needs server.adminPort or --admin-url).',
  subcommands: { stats: { usage: 'stats [--json]', summary: 'pending and expired message counts', run: (argv, out) => stats(MESSAGES_STATS, '/admin/messages/stats', argv, out) } },
};

export function runDevices(argv: string[], out: Out = stdout): Promise<number> {
  return runGroup(DEVICES, argv, out);
}

export function runMessages(argv: string[], out: Out = stdout): Promise<number> {
  return runGroup(MESSAGES, argv, out);
}

const LABELS: Record<keyof DeviceStatsView | keyof MessageStatsView, string> = {
  devices: 'devices',
  channels: 'channels (subscriptions)',
  devicesWithBacklog: 'devices with stored messages',
  largestBacklog: 'largest backlog (messages)',
  connectedHere: 'sockets open to this node',
  pending: 'messages waiting for their device',
  pendingBytes: 'bytes of those messages',
  expiredAwaitingSweep: 'expired, deleted at the next sweep',
  oldestPendingAgeSeconds: 'age of the oldest (s)',
};

async function stats(spec: typeof DEVICES_STATS, path: string, argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(spec, argv, out);
  if (!parsed) return 0;
  const { origin, ca } = adminListener(parsed.values);
  const answer = await callAdmin('GET', new URL(path, origin), ca);
  if (answer.status !== 200) throw failed(answer);
  const view = JSON.parse(answer.body) as Record<string, number | null>;
  if (parsed.values.json) {
    out(JSON.stringify(view, null, 2) + '\n');
    return 0;
  }
  for (const [key, value] of Object.entries(view)) out(`${LABELS[key as keyof typeof LABELS] ?? key}\t${value ?? '-'}\n`);
  return 0;
}
