/** The systems the bench compares, by name: how to start each and how to be its client. */
import { heraldClient, startHeraldPostgres, startHeraldSqlite } from './herald.js';
import { mosquittoClient, startMosquitto } from './mosquitto.js';
import { nchanClient, startNchan } from './nchan.js';
import type { Endpoint, RunningTarget, StartOptions, TargetClient, TargetName } from './types.js';

export function startTarget(name: TargetName, options: StartOptions = {}): Promise<RunningTarget> {
  switch (name) {
    case 'herald-sqlite':
      return startHeraldSqlite(options);
    case 'herald-pg':
      return startHeraldPostgres(options);
    case 'mosquitto':
      return startMosquitto();
    case 'nchan':
      return startNchan(options);
  }
}

export function clientFor(endpoint: Endpoint): TargetClient {
  switch (endpoint.target) {
    case 'herald-sqlite':
    case 'herald-pg':
      return heraldClient(endpoint);
    case 'mosquitto':
      return mosquittoClient(endpoint);
    case 'nchan':
      return nchanClient(endpoint);
  }
}
