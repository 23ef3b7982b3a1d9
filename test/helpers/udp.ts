/** UDP on loopback for the wake-up tests: a listener standing in for a device's port, and one-shot datagrams. */
import { createSocket, type Socket } from 'node:dgram';

/** A UDP socket on 127.0.0.1 that keeps every datagram it gets. */
export async function udpTap(): Promise<{ port: number; datagrams: Buffer[]; socket: Socket; close(): Promise<void> }> {
  const socket = createSocket('udp4');
  const datagrams: Buffer[] = [];
  socket.on('message', (datagram) => datagrams.push(datagram));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return {
    port: socket.address().port,
    datagrams,
    socket,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

export function sendUdp(datagram: Buffer, port: number): Promise<void> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) =>
    socket.send(datagram, port, '127.0.0.1', (error) => {
      socket.close();
      if (error) reject(error);
      else resolve();
    }),
  );
}
