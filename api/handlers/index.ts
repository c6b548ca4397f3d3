import { clientHandlers } from './clients';
import { ReadinessChecks, serviceHandlers } from './service';

export interface Services {
  readiness: ReadinessChecks;
}

/** Handlers keyed by the spec's operationId. */
export function operations(services: Services) {
  return {
    ...serviceHandlers(services.readiness),
    ...clientHandlers,
  };
}
