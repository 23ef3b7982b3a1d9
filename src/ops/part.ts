/**
 * The ops part: Dockerflow health routes on every listener; Prometheus metrics on the admin
 * listener, or, without one, on the device listener behind server.metricsToken (never open there:
 * docs/security.md).
 */
import type { Part } from '../server/part.js';
import type { StoreLifecycle } from '../store/types.js';
import type { Metrics } from './metrics.js';
import { registerHealthRoutes, registerMetricsRoute } from './routes.js';

export function opsPart(metrics: Metrics, storage: () => Pick<StoreLifecycle, 'ping'>, metricsToken: string | null): Part {
  return {
    name: 'ops',
    async register(http) {
      const store = storage();
      for (const app of http.public) registerHealthRoutes(app, store);
      if (http.admin) {
        registerHealthRoutes(http.admin, store);
        registerMetricsRoute(http.admin, metrics);
      } else if (metricsToken !== null) {
        registerMetricsRoute(http.devices, metrics, metricsToken);
      }
    },
  };
}
