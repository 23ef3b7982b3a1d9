/**
 * `herald admin bans [list]` lists the sources the guard refuses now, from GET /admin/bans;
 * `herald admin bans lift <source>` ends one ban early, with DELETE /admin/bans/<source>. Both ask a
 * running node's admin listener: bans live in that node's memory, or in Redis for a cluster (then
 * any node answers for all).
 */
import type { BanView } from '../guard/admin-routes.js';
import { adminListener, callAdmin, failed, LISTENER_FLAGS } from './admin-listener.js';
import { defineCommand, parseCommand, runGroup, stdout, type GroupSpec, type Out } from './command-line.js';
import { CommandFailure } from './failure.js';

const LIST = defineCommand({
  name: 'admin bans list',
  summary: 'Lists the sources the guard refuses now: source, reason, until when (tab-separated, or JSON with --json).',
  flags: LISTENER_FLAGS,
  notes: ['Asks a running node over its admin listener (server.adminPort).'],
});

const LIFT = defineCommand({
  name: 'admin bans lift',
  args: '<source>',
  count: { min: 1, max: 1 },
  summary: 'Ends a ban now: <source> as `herald admin bans` lists it (4:203.0.113.7, 6:2001:db8::/64) or an address.',
  flags: LISTENER_FLAGS,
  notes: ['Exit code 1 when the source was not banned. The strikes that led to the ban start over.'],
});

const BANS: GroupSpec = {
  name: 'admin bans',
  summary: 'The sources the guard refuses now, on a running node (needs server.adminPort or --admin-url).',
  bare: { usage: '', summary: 'the same as herald admin bans list', run: list },
  subcommands: {
    list: { usage: 'list [--json]', summary: 'the sources refused now and until when', run: list },
    lift: { usage: 'lift <source> [--json]', summary: 'end a ban now', run: lift },
  },
};

export function run(argv: string[], out: Out = stdout): Promise<number> {
  return runGroup(BANS, argv, out);
}

async function list(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(LIST, argv, out);
  if (!parsed) return 0;
  const { origin, ca } = adminListener(parsed.values);
  const answer = await callAdmin('GET', new URL('/admin/bans', origin), ca);
  if (answer.status !== 200) throw failed(answer);
  const { bans } = JSON.parse(answer.body) as { bans: BanView[] };
  if (parsed.values.json) {
    out(JSON.stringify(bans, null, 2) + '\n');
  } else if (bans.length === 0) {
    out('no source is banned\n');
  } else {
    for (const ban of bans) out(`${ban.source}\t${ban.reason}\tuntil ${ban.expiresAt} (${ban.remainingSeconds} s)\n`);
  }
  return 0;
}

/**
 * Needs the admin route DELETE /admin/bans/:source (the source key URL-encoded, or an address the
 * guard maps to its source key), answering 200 {"source": key, "lifted": true|false}.
 */
async function lift(argv: string[], out: Out): Promise<number> {
  const parsed = parseCommand(LIFT, argv, out);
  if (!parsed) return 0;
  const source = parsed.positionals[0] as string;
  const { origin, ca } = adminListener(parsed.values);
  const answer = await callAdmin('DELETE', new URL(`/admin/bans/${encodeURIComponent(source)}`, origin), ca);
  if (answer.status === 404 && /Route DELETE/.test(answer.body)) {
    throw new CommandFailure(`the node at ${origin} cannot lift bans (it has no DELETE /admin/bans route): update it, or wait for the ban to expire`);
  }
  if (answer.status !== 200) throw failed(answer);
  const result = JSON.parse(answer.body) as { source: string; lifted: boolean };
  if (parsed.values.json) out(JSON.stringify(result, null, 2) + '\n');
  else out(result.lifted ? `lifted the ban on ${result.source}\n` : `${result.source} was not banned\n`);
  return result.lifted ? 0 : 1;
}
