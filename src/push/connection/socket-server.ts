/**
 * The device WebSocket: framing, the hello deadline, WebSocket-level pings and close codes. The
 * protocol itself lives in PushSession; this file only moves frames between it and the socket.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { PushSession, type SessionOptions, type SessionPorts } from '../protocol/session.js';
import type { ServerMessage } from '../protocol/messages.js';

export interface SocketServerOptions extends SessionOptions {
  helloTimeoutMs: number;
  wsPingIntervalMs: number;
  wsPongTimeoutMs: number;
  maxFrameBytes: number;
  perMessageDeflate: boolean;
}

/** What each session needs besides its socket; the socket server fills in send and close. */
export type SharedPorts = Omit<SessionPorts, 'send' | 'close'>;

/**
 * Decides whether an upgrade may proceed (guard: allowed networks, connections per source): the
 * release to call when that socket is gone, or a refusal, 403 (network not allowed) or 429 (cap
 * reached, with Retry-After).
 */
export type UpgradeDecision = { release: () => void; deviceOwner?: string | null } | { refuse: 403 | 429 };
/**
 * `deviceOwner` (mutual TLS on the device listener): the owner the socket's client certificate
 * binds its device to, or null when it sent none (it may then resume only unbound devices).
 */
export type UpgradeGate = (request: IncomingMessage) => UpgradeDecision | Promise<UpgradeDecision>;

const REFUSALS: Record<403 | 429, string> = {
  403: 'HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
  429: 'HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
};

export interface SocketServerEvents {
  opened?(): void;
  closed?(): void;
  /** Herald stopped reading a device socket until the frames it sent are handled. */
  readsPaused?(): void;
}

const SUBPROTOCOL = 'push-notification';
const MAX_BUFFERED_BYTES = 1024 * 1024;
/**
 * Frames read but not handled yet (the session handles one at a time, and a store write takes an
 * event-loop turn or more). Past either figure Herald stops reading the socket until the queue is
 * empty, so a device that writes faster than Herald handles waits in TCP instead of Herald's memory.
 * What ws had already read when it paused still arrives: at most one read, so the hard bound
 * below is never reached unless pausing failed.
 */
const PAUSE_QUEUED_FRAMES = 8;
const PAUSE_QUEUED_BYTES = 256 * 1024;
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

/** One device socket and what the server tracks of it (one object per socket: idle ones stay cheap). */
interface Connection {
  socket: DeviceSocket;
  session: PushSession;
  openedAt: number;
  lastPingSentAt: number;
  awaitingPong: boolean;
  queuedFrames: number;
  queuedBytes: number;
}

/**
 * ws builds this class for each device socket (its `WebSocket` option), so the socket carries its
 * connection and one set of listeners serves every socket: a closure per listener per socket
 * would cost more than the connection's own fields.
 */
class DeviceSocket extends WebSocket {
  connection: Connection | undefined;
  server: SocketServer | undefined;
}

export class SocketServer {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly ports: SharedPorts,
    private readonly options: SocketServerOptions,
    private readonly events: SocketServerEvents = {},
    private readonly gate?: UpgradeGate,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxFrameBytes,
      perMessageDeflate: options.perMessageDeflate,
      // Firefox offers `push-notification`; accept it when offered, and plain sockets as well.
      handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
      // Keep no reference to the upgrade request: it is kilobytes per idle connection.
      clientTracking: false,
      WebSocket: DeviceSocket,
    });
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Serves WebSocket upgrades on any path of this HTTP server. */
  attach(server: Server): void {
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.upgrade(request, socket, head);
    });
    if (!this.heartbeat) this.startHeartbeat();
  }

  private async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let decision: UpgradeDecision | undefined;
    try {
      decision = await this.gate?.(request);
    } catch {
      decision = { refuse: 403 };
    }
    if (decision && 'refuse' in decision) {
      socket.end(REFUSALS[decision.refuse]);
      return;
    }
    if (decision) socket.once('close', decision.release);
    if (socket.destroyed) return;
    const owner = decision?.deviceOwner;
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws as DeviceSocket, request.socket.remoteAddress, owner));
  }

  /** The hello check of a socket whose certificate (or its absence) decided its owner. */
  private deviceAuthFor(owner: string | null | undefined): SessionPorts['deviceAuth'] {
    if (owner === undefined) return this.ports.deviceAuth;
    if (owner !== null) return { verify: () => ({ ok: true, owner }) };
    return this.ports.deviceAuth ?? { verify: () => ({ ok: true, owner: null }) };
  }

  private accept(socket: DeviceSocket, peerAddress?: string, owner?: string | null): void {
    const now = Date.now();
    const connection: Connection = {
      socket,
      session: undefined as unknown as PushSession,
      openedAt: now,
      lastPingSentAt: now,
      awaitingPong: false,
      queuedFrames: 0,
      queuedBytes: 0,
    };
    const session = new PushSession(
      {
        ...this.ports,
        ...(peerAddress !== undefined ? { peerAddress } : {}),
        ...(owner !== undefined ? { deviceAuth: this.deviceAuthFor(owner) } : {}),
        send: (message: ServerMessage) => {
          if (socket.readyState !== socket.OPEN) return;
          // A device that does not read its socket would make Herald buffer without bound. Its
          // messages are stored, so closing it loses nothing: it gets them when it reconnects.
          if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
            session.terminate(1011, 'device is not reading its socket');
            return;
          }
          socket.send(JSON.stringify(message));
        },
        close: (code: number, reason: string) => closeSocket(socket, code, reason),
      },
      this.options,
    );
    connection.session = session;
    socket.connection = connection;
    socket.server = this;
    this.connections.add(connection);
    this.events.opened?.();
    socket.on('message', SocketServer.onMessage);
    socket.on('pong', SocketServer.onPong);
    socket.on('error', SocketServer.onError);
    socket.on('close', SocketServer.onClose);
  }

  // The listeners every device socket shares; ws calls them with the socket as `this`.
  private static onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
    const { connection, server } = this as DeviceSocket;
    if (!connection || !server) return;
    if (isBinary) {
      connection.session.terminate(1003, 'binary frames are not accepted');
      return;
    }
    server.receive(connection, data.toString(), frameBytes(data));
  }

  private static onPong(this: WebSocket): void {
    const { connection } = this as DeviceSocket;
    if (!connection) return;
    connection.awaitingPong = false;
    void connection.session.keepAlive();
  }

  private static onError(): void {
    // ws closes the socket itself after an error (e.g. 1009 for an oversized frame).
  }

  private static onClose(this: WebSocket): void {
    const { connection, server } = this as DeviceSocket;
    if (connection && server) server.socketClosed(connection);
  }

  /** The socket is gone (either side closed it). */
  private socketClosed(connection: Connection): void {
    this.connections.delete(connection);
    connection.session.ended();
    this.events.closed?.();
  }

  /** Hands a frame to the session, and stops reading the socket while too much waits to be handled. */
  private receive(connection: Connection, text: string, bytes: number): void {
    const { socket, session } = connection;
    connection.queuedFrames++;
    connection.queuedBytes += bytes;
    if (connection.queuedBytes > MAX_QUEUED_BYTES + this.options.maxFrameBytes) {
      session.terminate(1011, 'frames queued faster than they are handled');
    } else if (!socket.isPaused && (connection.queuedFrames > PAUSE_QUEUED_FRAMES || connection.queuedBytes > PAUSE_QUEUED_BYTES)) {
      socket.pause();
      this.events.readsPaused?.();
    }
    void session.receive(text).finally(() => {
      connection.queuedFrames--;
      connection.queuedBytes -= bytes;
      if (connection.queuedFrames === 0 && socket.isPaused) socket.resume();
    });
  }

  /** One timer for all sockets rather than one per socket (pings, pongs, hello deadlines): idle connections stay cheap. */
  private startHeartbeat(): void {
    const { helloTimeoutMs, wsPongTimeoutMs, wsPingIntervalMs } = this.options;
    const tick = Math.max(250, Math.min(5000, helloTimeoutMs / 2, wsPongTimeoutMs / 2, wsPingIntervalMs / 2));
    this.heartbeat = setInterval(() => {
      const now = Date.now();
      for (const connection of this.connections) {
        // The hello deadline is checked here too, rather than by a timer per socket.
        if (connection.session.uaid === null && now - connection.openedAt > helloTimeoutMs) {
          connection.session.terminate(1011, 'no hello in time');
        } else if (connection.awaitingPong) {
          if (now - connection.lastPingSentAt > this.options.wsPongTimeoutMs) {
            connection.session.terminate(1011, 'no pong in time');
          }
        } else if (now - connection.lastPingSentAt >= this.options.wsPingIntervalMs) {
          connection.awaitingPong = true;
          connection.lastPingSentAt = now;
          connection.socket.ping();
        }
      }
    }, tick);
    this.heartbeat.unref();
  }

  /** Closes every socket (1001 going away) and stops the heartbeat. */
  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    const closing = [...this.connections].map(
      (connection) =>
        new Promise<void>((resolve) => {
          connection.socket.once('close', () => resolve());
          connection.session.ended();
          closeSocket(connection.socket, 1001, 'server shutting down');
          setTimeout(() => {
            connection.socket.terminate();
            resolve();
          }, 1000).unref();
        }),
    );
    await Promise.all(closing);
    this.wss.close();
  }
}

/** A close handshake, then a hard stop for peers that never answer it. */
function closeSocket(socket: WebSocket, code: number, reason: string): void {
  if (socket.readyState === socket.CLOSED || socket.readyState === socket.CLOSING) return;
  socket.close(code, reason.slice(0, 120));
  setTimeout(() => socket.terminate(), 2000).unref();
}

function frameBytes(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.length, 0);
  return data.byteLength;
}
