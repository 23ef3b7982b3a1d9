/** The Bus conformance suite (conformance.ts) on the local bus and on the Redis bus (real Redis). */
import { LocalBus } from '../../../src/push/delivery/local-bus.js';
import { RedisBus } from '../../../src/push/delivery/redis-bus.js';
import { redisUnavailable, redisUrl, requireServices, uniquePrefix } from '../../helpers/services.js';
import { busConformance } from './conformance.js';

busConformance('local', async (devices) => new LocalBus(devices), { skip: false });

requireServices([await redisUnavailable()], (skip) => {
  const prefix = uniquePrefix('bus-conformance');
  busConformance(
    'Redis',
    async (devices) => {
      const bus = new RedisBus({ url: redisUrl, devices, keyPrefix: prefix, onError: () => {} });
      await bus.start();
      return bus;
    },
    { skip },
  );
});
