/**
 * The ops part: Dockerflow health routes on every listener; Prometheus metrics on the admin
 * listener, or, without one, on the device listener behind server.metricsToken (never open there:
 * docs/security.md).
 */
import type { Part } from '../server/part.js';
import type { StoreLifecycle } from '../store/types.js';
import type { Metrics } from './metrics.js';
import { registerHealthRoutes, registerMetricsRoute, type HealthChecks } from './routes.js';

export function opsPart(
  metrics: Metrics,
  storage: () => Pick<StoreLifecycle, 'ping'>,
  metricsToken: string | null,
  dependencies: Omit<HealthChecks, 'storage'>,
  stop?: () => void,
): Part {
  return {
    name: 'ops',
    async register(http) {
      const checks: HealthChecks = { ...dependencies, storage: storage() };
      for (const app of http.public) registerHealthRoutes(app, checks);
      if (http.admin) {
        registerHealthRoutes(http.admin, checks);
        registerMetricsRoute(http.admin, metrics);
      } else if (metricsToken !== null) {
        registerMetricsRoute(http.devices, metrics, metricsToken);
      }
    },
    async stop() {
      stop?.();
    },
  };
}
