import { allHandlersFinished, CancellationScope, condition, continueAsNew, log, patched, workflowInfo } from '@temporalio/workflow';
import type { BatchReport } from '../activities/mailing';
import type { MailingSchedule } from '../storage/mailings';
import type { MailingOutcome, mailingWorkflow } from './mailing';
import { finishMailing, readSchedule, recordAudience, sendBatch } from './mailing-activities';
import { closeDeleted, enterPhase, finishAtEnd, IDLE_MS, isFinal, pausedTooLong, Run, sleepUnlessEdited } from './mailing-run';
import { addReport, countsOf, showProgress } from './progress';

/** Marks runs in which an outage found by several lanes pauses the window once (2026-12-01). */
const OUTAGE_PAUSE_ONCE_PATCH = 'mailing-outage-pause-once';
/** Marks runs that go on sending past BATCHES_PER_RUN while the audience is recorded (2026-12-03). */
const SEND_WHILE_RECORDING_PATCH = 'mailing-full-run-sends-while-recording-2026-12';

// The schedule is read at least this often, so a lost signal only delays an edit (batches also report
// a mailing that changed under them).
const WINDOW_RECHECK_MS = 600_000;
// Keeps each run's history small whatever the audience size (about 7 events a batch).
const BATCHES_PER_RUN = 400;
// A run continues as new only once its audience recording has ended (it waits for it); until then its
// lanes go on, up to this many batches, rather than idle while the recording finishes.
const BATCHES_PER_RUN_WHILE_RECORDING = 2 * BATCHES_PER_RUN;

/** Why the lanes of a window stop starting batches. */
type Stop = 'drained' | 'ended' | 'full' | 'stale' | 'paused';

/** What the lanes of one window share. */
interface Window {
  stop?: Stop;
  audienceDone: boolean;
  /** No batch starts before this (workflow time): the provider looked down. */
  pausedUntil: number;
  outagePause: number;
  batches: number;
  /** A batch found its mailing changed under it (a new filter, deleted): the schedule is read again. */
  recheck: boolean;
}

/**
 * Sends in a sliding window: `parallelBatches` lanes, each starting its next batch as soon as its last
 * one ends, so one stalled batch never idles the others; the audience is recorded alongside from the
 * start. A window ends when nothing is pending, at the end time, after BATCHES_PER_RUN batches
 * (continue-as-new; later while the audience is still being recorded), or when the schedule changed
 * under it.
 */
export async function sendInWindow(run: Run, claimed?: MailingSchedule): Promise<MailingOutcome> {
  const { mailingId, limits } = run;
  for (;;) {
    // The schedule the start's claim read serves the first pass, unless an edit has come since.
    const known = run.edited ? undefined : claimed;
    claimed = undefined;
    run.edited = false;
    const schedule = known ?? (await readSchedule(mailingId));
    if (!schedule || schedule.deleted) return closeDeleted(run);
    if (isFinal(schedule.status)) return schedule.status;
    Object.assign(run.progress, { startAt: schedule.startAt, endAt: schedule.endAt, audienceRecorded: schedule.audienceDone });
    let endAt = Date.parse(schedule.endAt);
    if (Date.now() >= endAt) return finishAtEnd(run);
    if (schedule.status === 'paused') {
      enterPhase(run, 'paused');
      // Until resumed (a signal) or the end; read again now and then in case the signal was lost.
      const untilEnd = endAt - Date.now();
      await sleepUnlessEdited(run, Math.min(untilEnd, WINDOW_RECHECK_MS), untilEnd <= WINDOW_RECHECK_MS ? 'paused: until end_at' : 'paused: schedule recheck');
      if (pausedTooLong()) {
        await condition(allHandlersFinished);
        return continueAsNew<typeof mailingWorkflow>({ mailingId, limits, sending: true, progress: countsOf(run.progress) });
      }
      continue;
    }
    run.paused = false;
    run.progress.backingOffUntil = null;
    enterPhase(run, 'sending');

    const window: Window = { audienceDone: schedule.audienceDone, pausedUntil: 0, outagePause: limits.outagePauseMs, batches: 0, recheck: false };
    const scope = new CancellationScope();
    const work = scope.run(async () => {
      const recording = window.audienceDone ? [] : [recordAudience(mailingId).then(() => void (window.audienceDone = run.progress.audienceRecorded = true))];
      const lanes = Array.from({ length: limits.parallelBatches }, () => lane(run, window));
      const failure = (await Promise.allSettled([...recording, ...lanes])).find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure) throw failure.reason;
    });
    run.busy = work;
    let settled = false;
    work.then(
      () => (settled = true),
      () => (settled = true),
    );

    while (!settled && Date.now() < endAt) {
      const untilEnd = endAt - Date.now();
      await condition(() => settled || run.edited || window.recheck, Math.min(untilEnd, WINDOW_RECHECK_MS), { summary: untilEnd <= WINDOW_RECHECK_MS ? 'until end_at' : 'window recheck' });
      if (settled) break;
      // An edit, a batch that found the mailing changed, or ten quiet minutes: the schedule is read again.
      run.edited = false;
      window.recheck = false;
      const fresh = await readSchedule(mailingId);
      if (!fresh || fresh.deleted || fresh.status !== 'running' || (window.audienceDone && !fresh.audienceDone)) window.stop ??= 'stale';
      if (fresh) endAt = Date.parse(fresh.endAt);
    }
    if (!settled) {
      // The end time as this run read it: the next pass reads it again before closing (it may have moved).
      scope.cancel();
      await work.catch(() => undefined);
      continue;
    }
    await work;

    if (window.stop === 'ended') return finishAtEnd(run);
    if (window.stop === 'drained') {
      const outcome = await finishMailing(mailingId, false);
      // Not final: an edit re-opened the audience meanwhile, or the mailing was paused.
      if (isFinal(outcome)) return outcome;
    }
    if (window.stop === 'full') {
      await condition(allHandlersFinished);
      return continueAsNew<typeof mailingWorkflow>({ mailingId, limits, sending: true, progress: countsOf(run.progress) });
    }
  }
}

/** One lane of the window: batch after batch until the window stops. */
async function lane(run: Run, window: Window): Promise<void> {
  const { mailingId, limits } = run;
  while (!window.stop) {
    if (run.paused) {
      window.stop = 'paused';
      return;
    }
    const paused = window.pausedUntil - Date.now();
    if (paused > 0) {
      await condition(() => window.stop !== undefined, paused, { summary: 'outage back-off' });
      continue;
    }
    if (run.progress.backingOffUntil !== null) {
      run.progress.backingOffUntil = null;
      enterPhase(run, 'sending');
    }
    if ((window.batches >= BATCHES_PER_RUN || workflowInfo().continueAsNewSuggested) && !sendsOnWhileRecording(window)) {
      window.stop ??= 'full';
      return;
    }
    window.batches++;
    const recordedBefore = window.audienceDone;
    // Counted with try/finally, not a promise chain: an extra promise would reorder commands on replay.
    run.batchesInFlight++;
    let report: BatchReport;
    try {
      report = await sendBatch(mailingId, limits.batchSize);
    } finally {
      run.batchesInFlight--;
    }
    addReport(run.progress, report);
    showProgress(run.progress);
    log.debug('send batch reported', { mailingId, ...report });
    if (report.stale) window.recheck = true;
    if (report.ended) {
      window.stop ??= 'ended';
    } else if (report.providerDown) {
      // Lanes that found the provider down while a pause is already set report the same outage: the
      // pause is set (and doubled) once per probe, not once per lane.
      if (!patched(OUTAGE_PAUSE_ONCE_PATCH) || Date.now() >= window.pausedUntil) {
        window.pausedUntil = Date.now() + window.outagePause;
        log.warn('provider looks down: no batch starts for a while', { mailingId, pauseMs: window.outagePause });
        run.progress.backingOffUntil = new Date(window.pausedUntil).toISOString();
        enterPhase(run, 'backing off: provider down');
        window.outagePause = Math.min(window.outagePause * 2, limits.outagePauseMaxMs);
      }
    } else {
      window.outagePause = limits.outagePauseMs;
      // The audience was complete before this batch counted what is pending: nothing is left.
      if (report.pending === 0 && recordedBefore) window.stop ??= 'drained';
      else if (report.attempted === 0) {
        // Asleep until the next message is due (a retry, a client's send window), not for a fixed
        // period; with nothing pending yet, the audience is still being recorded: a short nap.
        const nextDue = report.nextDueAt ? Date.parse(report.nextDueAt) : Date.now();
        await condition(() => window.stop !== undefined || window.audienceDone !== recordedBefore, Math.max(nextDue - Date.now(), IDLE_MS), {
          summary: report.nextDueAt ? 'next due message' : 'audience being recorded',
        });
      }
    }
  }
}

/** A full run whose audience is still being recorded keeps its lanes going, within bounds. */
function sendsOnWhileRecording(window: Window): boolean {
  if (window.audienceDone || window.batches >= BATCHES_PER_RUN_WHILE_RECORDING || workflowInfo().continueAsNewSuggested) return false;
  return patched(SEND_WHILE_RECORDING_PATCH);
}
