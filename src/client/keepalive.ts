/**
 * The device's ping (`{}`) on an idle connection, as Firefox sends it. An unanswered ping means the
 * connection is dead even if TCP has not noticed, so the socket is terminated and the device
 * reconnects.
 */
import WebSocket from 'ws';

const PING_ANSWER_TIMEOUT_MS = 30_000;

export class Keepalive {
  private pingTimer: NodeJS.Timeout | undefined;
  private answerTimer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs: number) {}

  /** Pings `socket` every interval from now on (the socket said hello). */
  start(socket: WebSocket): void {
    this.stop();
    this.pingTimer = setInterval(() => {
      if (socket.readyState !== WebSocket.OPEN) return;
      socket.send('{}');
      if (!this.answerTimer) {
        this.answerTimer = setTimeout(() => {
          this.answerTimer = undefined;
          socket.terminate();
        }, PING_ANSWER_TIMEOUT_MS);
      }
    }, this.intervalMs);
    this.pingTimer.unref();
  }

  /** The server answered `{}`. */
  answered(): void {
    clearTimeout(this.answerTimer);
    this.answerTimer = undefined;
  }

  stop(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.answerTimer);
    this.pingTimer = undefined;
    this.answerTimer = undefined;
  }
}
