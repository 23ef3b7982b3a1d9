/**
 * A keep-alive HTTP/1.1 client for load generation only, the way wrk and autocannon work: each
 * request is written as one prebuilt buffer on a pooled socket, and a response is read only as far
 * as its status line, Content-Length and body. node:http's client (ClientRequest, the Agent's
 * socket bookkeeping, the response stream) cost the generator more CPU per POST than the server
 * spent answering it, and the two share the machine's cores.
 *
 * It speaks just what Herald answers: no chunked responses, no 1xx, no pipelining (one request at
 * a time per socket, like the Agent).
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  /** The body as text (error envelopes); empty for Herald's 201. */
  body: string;
}

interface Pending {
  request: Buffer;
  /** Sent again once already, after a kept-alive socket closed under it. */
  retried?: boolean;
  resolve: (response: RawResponse) => void;
  reject: (error: Error) => void;
}

const HEADER_END = Buffer.from('\r\n\r\n');

class PooledConnection {
  private readonly socket: net.Socket;
  private current: Pending | null = null;
  private buffered: Buffer = Buffer.alloc(0);
  private closed = false;

  constructor(
    host: string,
    port: number,
    private readonly onIdle: (connection: PooledConnection) => void,
    private readonly onGone: (connection: PooledConnection, unanswered: Pending | null) => void,
  ) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  get busy(): boolean {
    return this.current !== null;
  }

  get usable(): boolean {
    return !this.closed;
  }

  send(pending: Pending): void {
    this.current = pending;
    this.socket.write(pending.request);
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const headerEnd = this.buffered.indexOf(HEADER_END);
    if (headerEnd === -1) return;
    const head = this.buffered.toString('latin1', 0, headerEnd);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const bodyLength = length ? Number(length[1]) : 0;
    const total = headerEnd + HEADER_END.length + bodyLength;
    if (this.buffered.length < total) return;
    const body = this.buffered.toString('utf8', headerEnd + HEADER_END.length, total);
    this.buffered = this.buffered.subarray(total);
    const done = this.current;
    this.current = null;
    if (/\r\nconnection:\s*close/i.test(head)) this.destroy();
    done?.resolve({ status, body });
    if (!this.closed) this.onIdle(this);
    else this.onGone(this, null);
  }

  private fail(error: Error): void {
    if (this.closed && this.current === null) return;
    this.closed = true;
    const pending = this.current;
    this.current = null;
    // A kept-alive socket the server closed just as a request went out: send it once more.
    if (pending && !pending.retried && this.buffered.length === 0) {
      pending.retried = true;
      this.onGone(this, pending);
      return;
    }
    pending?.reject(error);
    this.onGone(this, null);
  }
}

/** Up to `maxSockets` keep-alive connections to one server; requests beyond that wait in order. */
export class RawHttpPool {
  private readonly idle: PooledConnection[] = [];
  private readonly all = new Set<PooledConnection>();
  private readonly waiting: Pending[] = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly maxSockets: number,
  ) {}

  /** Sends one complete request (head and body in one buffer). */
  request(request: Buffer): Promise<RawResponse> {
    return new Promise<RawResponse>((resolve, reject) => {
      this.dispatch({ request, resolve, reject });
    });
  }

  close(): void {
    for (const connection of this.all) connection.destroy();
    this.all.clear();
    this.idle.length = 0;
    for (const pending of this.waiting.splice(0)) pending.reject(new Error('pool closed'));
  }

  private dispatch(pending: Pending): void {
    let connection = this.idle.pop();
    while (connection && !connection.usable) connection = this.idle.pop();
    if (!connection && this.all.size < this.maxSockets) {
      connection = new PooledConnection(
        this.host,
        this.port,
        (done) => this.released(done),
        (gone, unanswered) => this.gone(gone, unanswered),
      );
      this.all.add(connection);
    }
    if (connection) connection.send(pending);
    else this.waiting.push(pending);
  }

  private released(connection: PooledConnection): void {
    const next = this.waiting.shift();
    if (next) connection.send(next);
    else this.idle.push(connection);
  }

  private gone(connection: PooledConnection, unanswered: Pending | null): void {
    this.all.delete(connection);
    const next = unanswered ?? this.waiting.shift();
    if (next) this.dispatch(next);
  }
}

/** The bytes of one POST: head and body together, so it goes out in one write. */
export function buildPost(host: string, port: number, path: string, headers: Record<string, string | number>, body: Buffer | null): Buffer {
  let head = `POST ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  head += `Content-Length: ${body ? body.length : 0}\r\n\r\n`;
  return body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
}
