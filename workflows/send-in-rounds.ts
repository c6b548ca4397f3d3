import { allHandlersFinished, CancellationScope, condition, continueAsNew, workflowInfo } from '@temporalio/workflow';
import type { BatchReport } from '../activities/mailing';
import type { MailingOutcome, mailingWorkflow } from './mailing';
import { finishMailing, readSchedule, recordAudience, sendBatch } from './mailing-activities';
import { closeDeleted, finishAtEnd, IDLE_MS, isFinal, Run, sleepUnlessEdited } from './mailing-run';

// Frozen: sending in rounds (every batch of a round awaited before the next), as runs begun between the
// lifecycle change and the sliding window (2026-12-01) do it. Never edit; see "Changing the workflow
// safely" in the README.

const ROUNDS_PER_RUN = 100;
// The schedule is read at least this often while sending, so a lost signal only delays an edit.
const SENDING_RECHECK_MS = 60_000;

/** Phase 2 (on a new filter, again): every matching client gets a pending message. */
async function recordWholeAudience(run: Run): Promise<void> {
  const recording = recordAudience(run.mailingId);
  run.busy = recording;
  await recording;
}

/** Phase 3: rounds of send batches until nothing is pending or the end time comes. */
export async function sendInRounds(run: Run): Promise<MailingOutcome> {
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
    if (Date.now() >= endAt) return finishAtEnd(run);

    const reports = await sendRound(run, endAt);
    // Cut at the end time as this run read it: read the schedule again before closing (it may have moved).
    if (!reports) continue;
    if (reports.some((r) => r.ended)) return finishAtEnd(run);
    if (reports.every((r) => r.pending === 0) && !run.edited) {
      const outcome = await finishMailing(mailingId, false);
      // Still running: an edit re-opened the audience meanwhile.
      if (isFinal(outcome)) return outcome;
    } else if (reports.some((r) => r.providerDown)) {
      await sleepUnlessEdited(run, Math.min(outagePause, endAt - Date.now(), SENDING_RECHECK_MS), 'outage back-off');
      outagePause = Math.min(outagePause * 2, limits.outagePauseMaxMs);
    } else {
      outagePause = limits.outagePauseMs;
      if (reports.every((r) => r.attempted === 0)) {
        const nextDue = Math.min(...reports.map((r) => (r.nextDueAt ? Date.parse(r.nextDueAt) : Infinity)));
        await sleepUnlessEdited(run, Math.min(Math.max(nextDue, Date.now() + IDLE_MS), endAt, Date.now() + SENDING_RECHECK_MS) - Date.now(), 'next due message');
      }
    }

    if (rounds + 1 >= ROUNDS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof mailingWorkflow>({ mailingId, limits, sending: true });
    }
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
