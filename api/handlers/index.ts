import type { MailingService } from '../../domain/mailings';
import { clientHandlers } from './clients';
import { mailingHandlers } from './mailings';
import { messageHandlers } from './messages';
import { ReadinessChecks, serviceHandlers } from './service';

export interface Services {
  readiness: ReadinessChecks;
  mailings: MailingService;
}

/** Handlers keyed by the spec's operationId. */
export function operations(services: Services) {
  return {
    ...serviceHandlers(services.readiness),
    ...clientHandlers,
    ...mailingHandlers(services.mailings),
    ...messageHandlers,
  };
}
