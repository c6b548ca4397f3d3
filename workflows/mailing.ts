import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { allHandlersFinished, CancellationScope, condition, continueAsNew, defineSignal, defineUpdate, isCancellation, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { legacyMailingWorkflow } from './legacy-mailing';
import type { MailingSchedule } from '../storage/mailings';
import { cancelMailing, claimStart, readSchedule } from './mailing-activities';
import { closeDeleted, enterPhase, finishAtEnd, isFinal, MAX_EVENTS_PER_RUN, pausedTooLong, Run, sleepUnlessEdited } from './mailing-run';
import { newProgress, progressQuery, type ProgressCounts } from './progress';
import { sendInRounds } from './send-in-rounds';
import { sendInWindow } from './send-in-window';

export const mailingWorkflowId = (mailingId: number) => `mailing-${mailingId}`;

/** Lets operators find a mailing's runs: `temporal workflow list --query 'MailingId = 42'`. */
export const MAILING_ID = defineSearchAttributeKey('MailingId', SearchAttributeType.INT);

/** Sent after the mailing's row changed; the workflow reads the new schedule and filter from the database. */
export const mailingChanged = defineSignal('mailingChanged');

/**
 * Sent after the mailing was paused in the database: completes once no send batch runs any more, so
 * that no provider request starts after the caller hears back.
 */
export const pauseSending = defineUpdate<void>('pauseSending');

export interface SendLimits {
  /** Messages one send activity handles before it reports back. */
  batchSize: number;
  /** Send activities of one mailing running at once (on any workers). */
  parallelBatches: number;
  /** Pause after the provider looked down, doubling up to `outagePauseMaxMs`. */
  outagePauseMs: number;
  outagePauseMaxMs: number;
}

export interface MailingWorkflowInput {
  mailingId: number;
  limits: SendLimits;
  /** Set by continue-as-new: the start is claimed and sending is under way. */
  sending?: boolean;
  /** Written by runs before the lifecycle change; read by legacy-mailing.ts only. */
  changed?: boolean;
  /** Set by continue-as-new: what the earlier runs' batches reported (the `progress` query adds it up). */
  progress?: ProgressCounts;
}

export type MailingOutcome = 'finished' | 'expired' | 'cancelled';

/** Marks runs begun after the lifecycle change (one state machine, end time by the database's clock). */
const LIFECYCLE_PATCH = 'mailing-lifecycle-2026-12';
/** Marks runs that send in a sliding window of batches (no round barrier) while the audience is recorded. */
const SLIDING_WINDOW_PATCH = 'mailing-sliding-window-2026-12';
/**
 * Marks runs that claim their start as soon as its timer fires, and start sending with the schedule
 * the claim read, without reading it again in between (2026-12-02): two round trips fewer between
 * `start_at` and the first send.
 */
const QUICK_START_PATCH = 'mailing-quick-start-2026-12';

// While waiting for its start, the schedule is read at least this often, so a lost signal only delays.
const SCHEDULE_RECHECK_MS = 3_600_000;

/**
 * One mailing from schedule to last message: waits for the start and claims it, then records the
 * audience while sending it in a sliding window of batches until nothing is pending or the end time
 * comes, and closes what is left.
 */
export async function mailingWorkflow(input: MailingWorkflowInput): Promise<MailingOutcome> {
  // Runs begun before the lifecycle change replay the code they were written with.
  if (!patched(LIFECYCLE_PATCH)) return (await legacyMailingWorkflow(input)) as MailingOutcome;
  const run: Run = { mailingId: input.mailingId, limits: input.limits, edited: false, paused: false, batchesInFlight: 0, progress: newProgress(input.mailingId, input.progress) };
  setHandler(progressQuery, () => ({ ...run.progress, batchesInFlight: run.batchesInFlight }));
  setHandler(mailingChanged, () => {
    run.edited = true;
  });
  setHandler(pauseSending, async () => {
    run.paused = true;
    run.edited = true;
    await condition(() => run.batchesInFlight === 0);
  });
  try {
    let claimed: MailingSchedule | undefined;
    if (!input.sending) {
      const start = await waitForStart(run);
      if (typeof start === 'string') return closed(run, start);
      claimed = start.schedule;
    }
    return closed(run, await (patched(SLIDING_WINDOW_PATCH) ? sendInWindow(run, claimed) : sendInRounds(run)));
  } catch (error) {
    if (isCancellation(error)) {
      // Deleted: wait until the activities in flight have stopped, then cancel what was not sent.
      await CancellationScope.nonCancellable(async () => {
        await run.busy?.catch(() => undefined);
        await cancelMailing(run.mailingId);
      });
      closed(run, 'cancelled');
    }
    throw error;
  }
}

function closed(run: Run, outcome: MailingOutcome): MailingOutcome {
  enterPhase(run, outcome);
  return outcome;
}

/**
 * Phase 1: sleeps until the start time, re-reading the schedule after edits, then claims the start.
 * Started, it answers the schedule the claim read, if it can be used as it is.
 */
async function waitForStart(run: Run): Promise<{ schedule?: MailingSchedule } | MailingOutcome> {
  for (;;) {
    run.edited = false;
    const schedule = await readSchedule(run.mailingId);
    if (!schedule || schedule.deleted) return closeDeleted(run);
    if (isFinal(schedule.status)) return schedule.status;
    Object.assign(run.progress, { startAt: schedule.startAt, endAt: schedule.endAt });
    if (schedule.status === 'running') return {};
    if (schedule.status === 'paused') {
      // Paused before its start: it does not start until resumed (a signal), and still expires at the end.
      enterPhase(run, 'paused');
      const untilEnd = Date.parse(schedule.endAt) - Date.now();
      if (untilEnd <= 0) return finishAtEnd(run);
      await sleepUnlessEdited(run, Math.min(untilEnd, SCHEDULE_RECHECK_MS), untilEnd <= SCHEDULE_RECHECK_MS ? 'paused: until end_at' : 'paused: schedule recheck');
      if (pausedTooLong()) await continueAsNewWaiting(run);
      continue;
    }
    enterPhase(run, 'waiting for start');
    const untilStart = Date.parse(schedule.startAt) - Date.now();
    if (untilStart > 0) {
      await sleepUnlessEdited(run, Math.min(untilStart, SCHEDULE_RECHECK_MS), untilStart <= SCHEDULE_RECHECK_MS ? 'until start_at' : 'schedule recheck before start_at');
      if (workflowInfo().historyLength > MAX_EVENTS_PER_RUN) await continueAsNewWaiting(run);
      // The start came and nothing was edited: the claim checks the schedule in the database itself.
      if (run.edited || Date.now() < Date.parse(schedule.startAt) || !patched(QUICK_START_PATCH)) continue;
    }
    const claim = await claimStart(run.mailingId);
    if (claim.result === 'started') return { schedule: patched(QUICK_START_PATCH) ? claim.schedule : undefined };
    if (claim.result === 'missed') return 'expired';
    // Early by the database's clock (the one that decides), or gone: read the schedule again.
    if (claim.result === 'early') await sleepUnlessEdited(run, claim.waitMs, 'until start_at by the database clock');
  }
}

/** A run still waiting for its start goes on in a new one; a pause update under way finishes first (it adds no command). */
async function continueAsNewWaiting(run: Run): Promise<never> {
  await condition(allHandlersFinished);
  return continueAsNew<typeof mailingWorkflow>({ mailingId: run.mailingId, limits: run.limits });
}
