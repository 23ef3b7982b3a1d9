/**
 * A child process of the bench that holds idle subscriber connections to a running target, so the
 * bench can open 50,000 of them: one process may hold at most 20,000 open files here, and one source
 * address reaches ~28,000 ports of one destination (pitfalls.md).
 *
 * Protocol over the IPC channel: the parent sends one HoldRequest; the child answers
 * { ready: count } or { error }, then waits for 'close', closes every connection and exits.
 */
import { clientFor } from './targets.js';
import type { Endpoint, Subscriber } from './types.js';

export interface HoldRequest {
  endpoint: Endpoint;
  count: number;
  group: string;
  localAddresses: string[];
  concurrency: number;
}

export type HoldAnswer = { ready: number; received: number } | { error: string };

function send(message: HoldAnswer): void {
  process.send?.(message);
}

let subscribers: Subscriber[] = [];
let received = 0;

process.on('message', (message: HoldRequest | 'close') => {
  if (message === 'close') {
    void Promise.all(subscribers.map((s) => s.close())).finally(() => process.exit(0));
    return;
  }
  clientFor(message.endpoint)
    .connect(message.count, {
      group: message.group,
      localAddresses: message.localAddresses,
      concurrency: message.concurrency,
      onMessage: () => {
        received++;
      },
    })
    .then((opened) => {
      subscribers = opened;
      send({ ready: opened.length, received });
    })
    .catch((error: unknown) => {
      send({ error: error instanceof Error ? error.message : String(error) });
    });
});

// The parent going away must not leave thousands of sockets behind.
process.on('disconnect', () => process.exit(0));
