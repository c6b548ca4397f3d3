import type { Logger } from '../config/logger';
import type { ClaimedMessage, SendOutcome } from '../storage/messages';

/**
 * The per-message lines of a send batch, at `debug`: with the provider's request and answer lines
 * (activities/provider.ts) they tell one message's story. At `info` and above nothing is built.
 */

export function logClaimed(logger: Logger, mailingId: number, claimed: ClaimedMessage[]): void {
  if (!logger.isLevelEnabled('debug')) return;
  for (const message of claimed) logger.debug({ mailingId, messageId: message.id, attempts: message.attempts }, 'message claimed');
}

/** What a written outcome means for the message: a pending one without an error was never tried (its client's window is shut). */
function outcomeOf({ status, error }: SendOutcome): string {
  if (status !== 'pending') return status;
  return error === null ? 'waits for its send window' : 'retry scheduled';
}

/** After the write: outcomes of a claim whose lease ran out are not written (storage/messages.ts recordOutcomes). */
export function logOutcomes(logger: Logger, mailingId: number, outcomes: SendOutcome[]): void {
  if (!logger.isLevelEnabled('debug')) return;
  for (const outcome of outcomes) {
    logger.debug({ mailingId, messageId: outcome.id, outcome: outcomeOf(outcome), retryAt: outcome.retryAt, error: outcome.error ?? undefined }, 'send outcome recorded');
  }
}
