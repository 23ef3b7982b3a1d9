import type { Bus, LocalDevices } from './bus.js';
import { LocalBus } from './local-bus.js';
import type { RedisBusActivity, RedisBusEvents } from './redis-bus.js';

export interface BusSettings {
  /** "local" or redis://… / rediss://… */
  url: string;
  keyPrefix: string;
  presenceLeaseSeconds: number;
  deliveryTimeoutMs: number;
  commandTimeoutMs: number;
}

/** The bus a config names, not yet started. */
export async function openBus(
  settings: BusSettings,
  devices: LocalDevices,
  onError: (error: unknown, during: RedisBusActivity) => void,
  events: RedisBusEvents = {},
): Promise<Bus> {
  if (settings.url === 'local') return new LocalBus(devices);
  // Loaded only when named: ioredis is a tenth of a second of a cold start that does not use it.
  const { RedisBus } = await import('./redis-bus.js');
  return new RedisBus({
    url: settings.url,
    devices,
    keyPrefix: settings.keyPrefix,
    presenceLeaseMs: settings.presenceLeaseSeconds * 1000,
    deliveryTimeoutMs: settings.deliveryTimeoutMs,
    commandTimeoutMs: settings.commandTimeoutMs,
    onError,
    events,
  });
}
