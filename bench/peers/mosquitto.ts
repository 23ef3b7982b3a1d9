/**
 * Eclipse Mosquitto (Debian's package) as a benchmark target: our own broker on a free loopback
 * port with its own config in a temporary folder (the system service on 1883 is never touched).
 * Subscribers are MQTT 3.1.1 clients with persistent sessions (clean=false, fixed client ids), one
 * topic each, QoS 1: the broker queues for an offline client and the client PUBACKs what it gets.
 * The publisher is one MQTT connection with up to 64 QoS 1 PUBLISHes awaiting their PUBACK.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MqttClient } from 'mqtt';
import type { ConnectOptions, Endpoint, Publisher, RunningTarget, Subscriber, TargetClient } from './types.js';
import { freePort, openMany, plainBodies, stopProcess, waitForPort } from './util.js';

const MOSQUITTO = '/usr/sbin/mosquitto';
const CONNECT_TIMEOUT_MS = 30_000;

export async function startMosquitto(): Promise<RunningTarget> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-mosquitto-'));
  const port = await freePort();
  const config = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    // Run as the invoking user: the temporary folder is private to it.
    'user root',
    // As Debian's default config: sessions and queued messages are saved to disk, but as a periodic
    // snapshot (autosave_interval) rather than per message — Mosquitto holds them in memory.
    'persistence true',
    `persistence_location ${dir}/`,
    'autosave_interval 1800',
    'max_connections -1',
    // Defaults, stated: queued messages per offline client, QoS 1 messages in flight per client.
    'max_queued_messages 1000',
    'max_inflight_messages 20',
    // The option Mosquitto documents for low latency; Nagle's algorithm would add delayed-ACK stalls.
    'set_tcp_nodelay true',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'mosquitto.conf'), config);
  if (process.getuid?.() !== 0) writeFileSync(path.join(dir, 'mosquitto.conf'), config.replace('user root\n', ''));
  const child = spawn(MOSQUITTO, ['-c', path.join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  try {
    await waitForPort(port, 10_000, child, () => stderr.join(''));
  } catch (error) {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const url = `mqtt://127.0.0.1:${port}`;
  const endpoint: Endpoint = { target: 'mosquitto', subscribeUrls: [url], publishUrls: [url] };
  return {
    name: 'mosquitto',
    endpoint,
    description: 'Mosquitto 2.0 (Debian), one process, persistent sessions, QoS 1',
    capacity: { connections: 19_000, why: 'one process × 20,000 open files (Mosquitto has no clustering)' },
    pids: () => [child.pid as number],
    servicePids: () => [],
    collectGarbage: async () => {},
    stop: async () => {
      await stopProcess(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function newClient(url: string, clientId: string, localAddress: string | undefined, clean = false): MqttClient {
  const { hostname, port } = new URL(url);
  return new MqttClient(() => net.connect({ host: hostname, port: Number(port), ...(localAddress ? { localAddress } : {}) }), {
    clientId,
    clean,
    protocolVersion: 4,
    keepalive: 60,
    // The bench reconnects deliberately; an automatic reconnect would hide a failure.
    reconnectPeriod: 0,
    connectTimeout: CONNECT_TIMEOUT_MS,
    resubscribe: false,
  });
}

class MqttSubscriber implements Subscriber {
  received = 0;
  constructor(
    private readonly client: MqttClient,
    readonly resumeKey: string,
    readonly publishKey: string,
  ) {}
  close(): Promise<void> {
    // A DISCONNECT keeps the session (clean=false): the broker queues what arrives meanwhile.
    return this.client.endAsync().catch(() => {});
  }
}

function connectOne(url: string, clientId: string, topic: string, resume: boolean, options: ConnectOptions, localAddress: string | undefined): Promise<MqttSubscriber> {
  const client = newClient(url, clientId, localAddress);
  const subscriber = new MqttSubscriber(client, clientId, topic);
  // mqtt.js sends the PUBACK of a QoS 1 message as part of handling it, before 'message'.
  client.on('message', () => {
    subscriber.received++;
    options.onMessage(subscriber, performance.now());
  });
  return new Promise<MqttSubscriber>((resolve, reject) => {
    const fail = (error: Error) => {
      client.end(true);
      reject(error);
    };
    client.once('error', fail);
    client.once('close', () => fail(new Error(`MQTT client ${clientId} closed before it was ready`)));
    client.once('connect', () => {
      if (resume) {
        client.removeAllListeners('close');
        resolve(subscriber);
        return;
      }
      client.subscribe(topic, { qos: 1 }, (error, granted) => {
        if (error) return fail(error);
        if (granted?.[0]?.qos !== 1) return fail(new Error(`subscription to ${topic} granted ${String(granted?.[0]?.qos)}`));
        client.removeAllListeners('close');
        resolve(subscriber);
      });
    });
  });
}

export function mosquittoClient(endpoint: Endpoint): TargetClient {
  const url = endpoint.subscribeUrls[0]!;
  return {
    async connect(count, options) {
      const addresses = options.localAddresses ?? [];
      return openMany(count, options.concurrency ?? 100, (i) => {
        const clientId = options.resumeKeys?.[i] ?? `${options.group}-${i}`;
        // The topic is the client id: a resumed client keeps its subscription in the session.
        return connectOne(url, clientId, `d/${clientId}`, options.resumeKeys !== undefined, options, addresses.length > 0 ? addresses[i % addresses.length] : undefined);
      });
    },
    publisher(inFlight) {
      const client = newClient(endpoint.publishUrls[0]!, `bench-publisher-${process.pid}-${Math.random().toString(36).slice(2, 8)}`, undefined, true);
      const ready = new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      });
      const publisher: Publisher = {
        failures: 0,
        lastFailure: '',
        async publish(_index, topic, body) {
          await ready;
          try {
            await client.publishAsync(topic, body ?? Buffer.alloc(0), { qos: 1 });
          } catch (error) {
            publisher.failures++;
            publisher.lastFailure = (error as Error).message;
          }
        },
        async close() {
          await client.endAsync().catch(() => {});
        },
      };
      void inFlight; // the bench's closed loop keeps `inFlight` publishes outstanding on this one connection
      return publisher;
    },
    bodies: (count, payloadBytes) => plainBodies(count, payloadBytes),
  };
}
