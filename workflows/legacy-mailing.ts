import {
  ActivityCancellationType,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  defineSignal,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchReport, MailingActivities } from '../activities/mailing';
import type { MailingWorkflowInput } from './mailing';

// Frozen: the mailing workflow as it was before the lifecycle change (2026-12), kept so that runs begun
// then replay command for command. Never edit; see "Changing the workflow safely" in the README.

const mailingChanged = defineSignal('mailingChanged');

// What finishMailing answers, as the legacy code returned it.
type MailingOutcome = Awaited<ReturnType<MailingActivities['finishMailing']>> | 'cancelled';

const { readSchedule, startSending, syncAudience, finishMailing, cancelMailing } = proxyActivities<MailingActivities>({
  startToCloseTimeout: '5 minutes',
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

/** The whole run, as the legacy code wrote it: wait, record, send in rounds, close. */
export async function legacyMailingWorkflow(input: MailingWorkflowInput): Promise<MailingOutcome> {
  const { mailingId, limits } = input;
  let sending = input.sending ?? false;
  let changed = input.changed ?? false;
  // A change read while sending may have altered the filter: the audience is synced before the next round.
  let audienceStale = false;
  let round: Promise<BatchReport[]> | undefined;
  setHandler(mailingChanged, () => {
    changed = true;
  });

  let schedule = await readSchedule(mailingId);
  const startAt = () => Date.parse(schedule!.startAt);
  const endAt = () => Date.parse(schedule!.endAt);

  const refresh = async () => {
    changed = false;
    audienceStale = sending;
    schedule = await readSchedule(mailingId);
  };

  /** Sleeps until `until` (never past the end time) unless the mailing changes first. */
  const pauseUntil = async (until: number) => {
    const ms = Math.min(until, endAt()) - Date.now();
    if (ms > 0) await condition(() => changed, ms);
  };

  /** Runs send batches side by side and waits for every one to settle, even when one fails. */
  const sendRound = async (): Promise<BatchReport[]> => {
    const settled = await Promise.allSettled(Array.from({ length: limits.parallelBatches }, () => sendBatch(mailingId, limits.batchSize)));
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<BatchReport>).value);
  };

  try {
    if (!schedule || schedule.deleted) return 'cancelled';

    if (!sending) {
      while (Date.now() < startAt()) {
        await condition(() => changed, startAt() - Date.now());
        if (changed) await refresh();
        if (!schedule || schedule.deleted) return 'cancelled';
      }
      if (Date.now() >= endAt()) return await finishMailing(mailingId, true);
      await startSending(mailingId);
      sending = true;
    }

    let outagePause = limits.outagePauseMs;
    for (let rounds = 0; ; rounds++) {
      if (changed) await refresh();
      if (!schedule || schedule.deleted) return 'cancelled';
      if (audienceStale) {
        audienceStale = false;
        await syncAudience(mailingId);
      }
      if (Date.now() >= endAt()) return await finishMailing(mailingId, true);

      const scope = new CancellationScope();
      round = scope.run(sendRound);
      let reports: BatchReport[] | undefined;
      round.then((r) => (reports = r), () => undefined);
      // The end time cuts a round short: its activities are cancelled and their requests abandoned.
      while (!reports && Date.now() < endAt()) {
        await condition(() => reports !== undefined || changed, endAt() - Date.now());
        if (changed && !reports) await refresh();
      }
      if (!reports) {
        scope.cancel();
        await round.catch(() => undefined);
        return await finishMailing(mailingId, true);
      }
      reports = await round;
      round = undefined;

      const pending = Math.min(...reports.map((r) => r.pending));
      if (pending === 0 && !audienceStale && !changed) return await finishMailing(mailingId, false);
      if (reports.some((r) => r.providerDown)) {
        await pauseUntil(Date.now() + outagePause);
        outagePause = Math.min(outagePause * 2, limits.outagePauseMaxMs);
      } else {
        outagePause = limits.outagePauseMs;
        const attempted = reports.reduce((sum, r) => sum + r.attempted, 0);
        const nextDue = Math.min(...reports.map((r) => (r.nextDueAt ? Date.parse(r.nextDueAt) : Infinity)));
        if (attempted === 0 && !audienceStale) await pauseUntil(nextDue);
      }

      if (rounds + 1 >= ROUNDS_PER_RUN || workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        return await continueAsNew<typeof legacyMailingWorkflow>({ mailingId, limits, sending: true, changed: changed || audienceStale });
      }
    }
  } catch (error) {
    if (isCancellation(error)) {
      // Deleted: wait until the batches in flight have stopped, then cancel what was not sent.
      await CancellationScope.nonCancellable(async () => {
        await round?.catch(() => undefined);
        await cancelMailing(mailingId);
      });
    }
    throw error;
  }
}
