import type { Bus, LocalDevices } from './bus.js';
import { LocalBus } from './local-bus.js';
import { RedisBus, type RedisBusActivity, type RedisBusEvents } from './redis-bus.js';

export interface BusSettings {
  /** "local" or redis://… / rediss://… */
  url: string;
  keyPrefix: string;
  presenceLeaseSeconds: number;
  deliveryTimeoutMs: number;
  commandTimeoutMs: number;
}

/** The bus a config names, not yet started. */
export function openBus(
  settings: BusSettings,
  devices: LocalDevices,
  onError: (error: unknown, during: RedisBusActivity) => void,
  events: RedisBusEvents = {},
): Bus {
  if (settings.url === 'local') return new LocalBus(devices);
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
