import { condition, log, patched, workflowInfo } from '@temporalio/workflow';
import { cancelMailing, finishMailing } from './mailing-activities';
import type { MailingOutcome, SendLimits } from './mailing';
import { type Phase, type Progress, showProgress } from './progress';

/** What one run of the workflow keeps between its phases. */
export interface Run {
  mailingId: number;
  limits: SendLimits;
  /** A signal said the mailing was edited since the schedule was last read. */
  edited: boolean;
  /** Activities that must settle before a cancelled mailing is closed. */
  busy?: Promise<unknown>;
  /** An operator paused the mailing: no send batch starts until it is resumed. */
  paused: boolean;
  /** Send batches running now: a pause is answered once there are none. */
  batchesInFlight: number;
  /** What the `progress` query answers. */
  progress: Progress;
}

// A run that waits (for its start, or paused) continues as new past this many events: it may wait for weeks.
export const MAX_EVENTS_PER_RUN = 2_000;
/** Marks runs that continue as new while paused, as they do while waiting for the start (2026-12-03). */
const LONG_PAUSE_PATCH = 'mailing-long-pause-continue-as-new-2026-12';

/**
 * A paused run has grown long: about ten events per schedule recheck while paused (every ten minutes
 * once sending, every hour before the start) took a run paused for a month past Temporal's limit.
 */
export const pausedTooLong = () => workflowInfo().historyLength > MAX_EVENTS_PER_RUN && patched(LONG_PAUSE_PATCH);

// Sending that could start nothing waits at least this long before trying again: no loop without a timer.
export const IDLE_MS = 1_000;

export const isFinal = (status: string): status is MailingOutcome => ['finished', 'expired', 'cancelled'].includes(status);

/** Sleeps up to `ms`, waking early when the mailing is edited; `summary` names the timer in the Web UI. */
export async function sleepUnlessEdited(run: Run, ms: number, summary: string): Promise<void> {
  if (ms > 0) await condition(() => run.edited, ms, { summary });
}

export function enterPhase(run: Run, phase: Phase): void {
  if (run.progress.phase === phase) return;
  run.progress.phase = phase;
  showProgress(run.progress);
  log.info(`mailing ${phase}`, { mailingId: run.mailingId });
}

export async function closeDeleted(run: Run): Promise<'cancelled'> {
  await cancelMailing(run.mailingId);
  return 'cancelled';
}

/** At the end time what is pending expires; the mailing always ends then (`running` is for a finish before it). */
export async function finishAtEnd(run: Run): Promise<MailingOutcome> {
  for (;;) {
    const outcome = await finishMailing(run.mailingId, true);
    if (isFinal(outcome)) return outcome;
    await sleepUnlessEdited(run, IDLE_MS, 'finish again');
  }
}
