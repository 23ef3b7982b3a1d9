/**
 * Load shapes and readings shared by every target: a closed loop with N outstanding, a paced (open)
 * loop, and CPU/wall readings of a set of server processes around a piece of work.
 */
import { readCpuTimes, readMachineBusySeconds, readRssBytes } from './server.js';

/** Sends `count` messages keeping `inFlight` outstanding; `send(i)` resolves when message i was accepted. */
export async function closedLoop(count: number, inFlight: number, send: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await send(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
}

/**
 * Sends at `ratePerSecond` whatever the answers' speed (open loop: a slow server sees requests pile
 * up, as it would from real senders). Resolves when all are answered. `beforeSend(i)` runs just before.
 */
export async function pacedLoop(count: number, ratePerSecond: number, send: (index: number) => Promise<void>, beforeSend?: (index: number) => void): Promise<{ maxOutstanding: number }> {
  const started = performance.now();
  const answered: Array<Promise<void>> = [];
  let outstanding = 0;
  let maxOutstanding = 0;
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((performance.now() - started) / 1000) * ratePerSecond) + 1);
    while (sent < due) {
      const i = sent++;
      beforeSend?.(i);
      outstanding++;
      maxOutstanding = Math.max(maxOutstanding, outstanding);
      answered.push(
        send(i).finally(() => {
          outstanding--;
        }),
      );
    }
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(answered);
  return { maxOutstanding };
}

/** CPU seconds (user + system, all threads) of every pid; a process gone meanwhile counts 0. */
export function cpuOf(pids: number[]): { user: number; system: number } {
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    try {
      const times = readCpuTimes(pid);
      user += times.user;
      system += times.system;
    } catch {
      // exited
    }
  }
  return { user, system };
}

/** Resident memory of every pid, summed. */
export function rssOf(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + readRssBytes(pid), 0);
}

export interface Reading {
  seconds: number;
  /** The target's own processes (Herald nodes, nginx master + workers, mosquitto). */
  serverCpu: number;
  /** Part of serverCpu spent in the kernel. */
  serverSystemCpu: number;
  /** Shared services the target uses (PostgreSQL, Redis for Herald's cluster). */
  serviceCpu: number;
  /** This process: the load generator. */
  generatorCpu: number;
  /** CPU the rest of the machine used meanwhile: other work on a shared VM skews every figure. */
  otherCpu: number;
}

/** Wall time and CPU of the server, its services, the generator and everything else around `work`. */
export async function measure(pids: () => number[], servicePids: () => number[], work: () => Promise<void>): Promise<Reading> {
  const serverPids = pids();
  const services = servicePids();
  const server0 = cpuOf(serverPids);
  const service0 = cpuOf(services);
  const machine0 = readMachineBusySeconds();
  const generator0 = process.cpuUsage();
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  const generator = process.cpuUsage(generator0);
  const server1 = cpuOf(serverPids);
  const service1 = cpuOf(services);
  const system = server1.system - server0.system;
  const serverCpu = server1.user - server0.user + system;
  const serviceCpu = Math.max(0, service1.user + service1.system - service0.user - service0.system);
  const generatorCpu = (generator.user + generator.system) / 1e6;
  const otherCpu = Math.max(0, readMachineBusySeconds() - machine0 - serverCpu - serviceCpu - generatorCpu);
  return { seconds, serverCpu, serverSystemCpu: system, serviceCpu, generatorCpu, otherCpu };
}
