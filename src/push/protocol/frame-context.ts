/**
 * What a frame handler works with, and what it hands back. A handler reads and changes the
 * device's state and runs the storage commands its frame implies (those never depend on the socket
 * still being open); the frames to send and a close come back as its Reply, which the session sends
 * only while the socket is open.
 */
import type { DeviceState } from './device-state.js';
import type { RegisterCheck } from './hooks.js';
import type { BroadcastAnswer, ServerMessage } from './messages.js';
import type { Outbox } from './outbox.js';
import type { SessionOptions, SessionPortsOf } from './ports.js';
import type { LiveSession } from './live.js';

export interface FrameContext {
  readonly ports: SessionPortsOf<LiveSession>;
  readonly options: SessionOptions;
  readonly device: DeviceState;
  readonly outbox: Outbox;
  /** The hooks a register passes before anything is written, in order. */
  readonly registerChecks: readonly RegisterCheck[];
}

export interface Reply {
  frames: ServerMessage[];
  close?: { code: number; reason: string };
  /** The frame settled notifications: the drain may send its next batch. */
  continueDrain?: boolean;
}

export function reply(...frames: ServerMessage[]): Reply {
  return { frames };
}

/** Subscribes the device to the broadcasts it names that exist; answers versions that differ and unknown ids. */
export function subscribeBroadcasts(context: FrameContext, requested: Record<string, string>): BroadcastAnswer {
  const current = context.ports.broadcasts();
  const answer: BroadcastAnswer = {};
  const errors: Record<string, string> = {};
  for (const [id, version] of Object.entries(requested)) {
    const known = Object.hasOwn(current, id) ? current[id] : undefined;
    if (known === undefined) {
      errors[id] = 'Broadcast not found';
      continue;
    }
    context.device.broadcasts.add(id);
    if (known !== version) answer[id] = known;
  }
  if (Object.keys(errors).length > 0) answer.errors = errors;
  return answer;
}
