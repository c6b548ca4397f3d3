import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import {
  ActivityCancellationType,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  defineSignal,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchReport, MailingActivities } from '../activities/mailing';
import { legacyMailingWorkflow } from './legacy-mailing';

export const mailingWorkflowId = (mailingId: number) => `mailing-${mailingId}`;

/** Lets operators find a mailing's runs: `temporal workflow list --query 'MailingId = 42'`. */
export const MAILING_ID = defineSearchAttributeKey('MailingId', SearchAttributeType.INT);

/** Sent after the mailing's row changed; the workflow reads the new schedule and filter from the database. */
export const mailingChanged = defineSignal('mailingChanged');

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
}

export type MailingOutcome = 'finished' | 'expired' | 'cancelled';
const isFinal = (status: string): status is MailingOutcome => ['finished', 'expired', 'cancelled'].includes(status);

/** Marks runs begun after the lifecycle change (one state machine, end time by the database's clock). */
export const LIFECYCLE_PATCH = 'mailing-lifecycle-2026-12';

const { readSchedule, claimStart, finishMailing, cancelMailing } = proxyActivities<MailingActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

// Runs chunk by chunk (heartbeating) and is never abandoned: a delete waits for the chunk under way.
const { recordAudience } = proxyActivities<MailingActivities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '1 minute',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

const { sendBatch } = proxyActivities<MailingActivities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

// Keeps each run's history small whatever the audience size; the server may ask for it sooner.
const ROUNDS_PER_RUN = 100;
const MAX_EVENTS_PER_RUN = 2_000;
// The schedule is read at least this often (waiting for the start, and while sending), so a lost signal
// only delays an edit.
const SCHEDULE_RECHECK_MS = 3_600_000;
const SENDING_RECHECK_MS = 60_000;
// A round that could start nothing waits at least this long before the next: no loop without a timer.
const IDLE_ROUND_MS = 1_000;

/** What one run of the workflow keeps between its phases. */
interface Run {
  mailingId: number;
  limits: SendLimits;
  /** A signal said the mailing was edited since the schedule was last read. */
  edited: boolean;
  /** Activities that must settle before a cancelled mailing is closed. */
  busy?: Promise<unknown>;
}

/**
 * One mailing from schedule to last message: waits for the start, records the audience, sends it in
 * rounds of batches until nothing is pending or the end time comes, and closes what is left.
 */
export async function mailingWorkflow(input: MailingWorkflowInput): Promise<MailingOutcome> {
  // Runs begun before the lifecycle change replay the code they were written with.
  if (!patched(LIFECYCLE_PATCH)) return (await legacyMailingWorkflow(input)) as MailingOutcome;
  const run: Run = { mailingId: input.mailingId, limits: input.limits, edited: false };
  setHandler(mailingChanged, () => {
    run.edited = true;
  });
  try {
    if (!input.sending) {
      const start = await waitForStart(run);
      if (start !== 'started') return start;
    }
    return await send(run);
  } catch (error) {
    if (isCancellation(error)) {
      // Deleted: wait until the activities in flight have stopped, then cancel what was not sent.
      await CancellationScope.nonCancellable(async () => {
        await run.busy?.catch(() => undefined);
        await cancelMailing(run.mailingId);
      });
    }
    throw error;
  }
}

/** Sleeps up to `ms`, waking early when the mailing is edited. */
async function sleepUnlessEdited(run: Run, ms: number): Promise<void> {
  if (ms > 0) await condition(() => run.edited, ms);
}

async function closeDeleted(run: Run): Promise<'cancelled'> {
  await cancelMailing(run.mailingId);
  return 'cancelled';
}

/** Phase 1: sleeps until the start time, re-reading the schedule after edits, then claims the start. */
async function waitForStart(run: Run): Promise<'started' | MailingOutcome> {
  for (;;) {
    run.edited = false;
    const schedule = await readSchedule(run.mailingId);
    if (!schedule || schedule.deleted) return closeDeleted(run);
    if (isFinal(schedule.status)) return schedule.status;
    if (schedule.status === 'running') return 'started';
    const untilStart = Date.parse(schedule.startAt) - Date.now();
    if (untilStart > 0) {
      await sleepUnlessEdited(run, Math.min(untilStart, SCHEDULE_RECHECK_MS));
      if (workflowInfo().historyLength > MAX_EVENTS_PER_RUN) await continueAsNew<typeof mailingWorkflow>({ mailingId: run.mailingId, limits: run.limits });
      continue;
    }
    const claim = await claimStart(run.mailingId);
    if (claim.result === 'started') return 'started';
    if (claim.result === 'missed') return 'expired';
    // Early by the database's clock (the one that decides), or gone: read the schedule again.
    if (claim.result === 'early') await sleepUnlessEdited(run, claim.waitMs);
  }
}

/** Phase 2 (on a new filter, again): every matching client gets a pending message. */
async function recordWholeAudience(run: Run): Promise<void> {
  const recording = recordAudience(run.mailingId);
  run.busy = recording;
  await recording;
}

/** Phase 3: rounds of send batches until nothing is pending or the end time comes. */
async function send(run: Run): Promise<MailingOutcome> {
  const { mailingId, limits } = run;
  let outagePause = limits.outagePauseMs;
  for (let rounds = 0; ; rounds++) {
    run.edited = false;
    // Read every round: a lost signal delays an edit by one round at most.
    const schedule = await readSchedule(mailingId);
    if (!schedule || schedule.deleted) return closeDeleted(run);
    if (isFinal(schedule.status)) return schedule.status;
    if (!schedule.audienceDone) await recordWholeAudience(run);
    const endAt = Date.parse(schedule.endAt);
    if (Date.now() >= endAt) return finish(run, true);

    const reports = await sendRound(run, endAt);
    // Cut at the end time as this run read it: read the schedule again before closing (it may have moved).
    if (!reports) continue;
    if (reports.some((r) => r.ended)) return finish(run, true);
    if (reports.every((r) => r.pending === 0) && !run.edited) {
      const outcome = await finishMailing(mailingId, false);
      // Still running: an edit re-opened the audience meanwhile.
      if (outcome !== 'running') return outcome;
    } else if (reports.some((r) => r.providerDown)) {
      await sleepUnlessEdited(run, Math.min(outagePause, endAt - Date.now(), SENDING_RECHECK_MS));
      outagePause = Math.min(outagePause * 2, limits.outagePauseMaxMs);
    } else {
      outagePause = limits.outagePauseMs;
      if (reports.every((r) => r.attempted === 0)) {
        const nextDue = Math.min(...reports.map((r) => (r.nextDueAt ? Date.parse(r.nextDueAt) : Infinity)));
        await sleepUnlessEdited(run, Math.min(Math.max(nextDue, Date.now() + IDLE_ROUND_MS), endAt, Date.now() + SENDING_RECHECK_MS) - Date.now());
      }
    }

    if (rounds + 1 >= ROUNDS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof mailingWorkflow>({ mailingId, limits, sending: true });
    }
  }
}

/** At the end time what is pending expires; the mailing always ends then (`running` is for a finish before it). */
async function finish(run: Run, reachedEnd: true): Promise<MailingOutcome> {
  for (;;) {
    const outcome = await finishMailing(run.mailingId, reachedEnd);
    if (outcome !== 'running') return outcome;
    await sleepUnlessEdited(run, IDLE_ROUND_MS);
  }
}

/**
 * Runs send batches side by side until every one has settled, or until the end time, which cuts the
 * round short: its activities are cancelled and their requests abandoned. Undefined when cut.
 */
async function sendRound(run: Run, endAt: number): Promise<BatchReport[] | undefined> {
  const { mailingId, limits } = run;
  const scope = new CancellationScope();
  const round = scope.run(async () => {
    const settled = await Promise.allSettled(Array.from({ length: limits.parallelBatches }, () => sendBatch(mailingId, limits.batchSize)));
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<BatchReport>).value);
  });
  run.busy = round;
  let reports: BatchReport[] | undefined;
  round.then((r) => (reports = r), () => undefined);
  while (!reports && Date.now() < endAt) {
    await condition(() => reports !== undefined || run.edited, endAt - Date.now());
    if (run.edited && !reports) {
      run.edited = false;
      const schedule = await readSchedule(mailingId);
      if (schedule) endAt = Date.parse(schedule.endAt);
    }
  }
  if (!reports) {
    scope.cancel();
    await round.catch(() => undefined);
    return undefined;
  }
  return round;
}
