import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/**
 * Sends wake-up datagrams from one unbound-until-used UDP socket per address family. The sockets
 * never receive anything Herald reads (incoming datagrams are dropped) and do not keep the process
 * alive.
 */
export class DatagramSender {
  private readonly sockets = new Map<'udp4' | 'udp6', Socket>();

  send(datagram: Buffer, host: string, port: number): Promise<void> {
    const socket = this.socketFor(isIPv6(host) ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      socket.send(datagram, port, host, (error) => (error ? reject(error) : resolve()));
    });
  }

  async close(): Promise<void> {
    const sockets = [...this.sockets.values()];
    this.sockets.clear();
    await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }

  private socketFor(type: 'udp4' | 'udp6'): Socket {
    let socket = this.sockets.get(type);
    if (!socket) {
      socket = createSocket(type);
      // An ICMP "port unreachable" for an earlier datagram surfaces here; the device is simply away.
      socket.on('error', () => undefined);
      socket.on('message', () => undefined);
      socket.unref();
      this.sockets.set(type, socket);
    }
    return socket;
  }
}
