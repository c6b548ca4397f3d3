import { defineQuery, setCurrentDetails } from '@temporalio/workflow';
import type { BatchReport } from '../activities/mailing';

/** Where a mailing's workflow is now. */
export type Phase = 'waiting for start' | 'paused' | 'sending' | 'backing off: provider down' | 'finished' | 'expired' | 'cancelled';

/**
 * What the workflow knows of its mailing, from the answers of its own activities: no I/O, so it costs
 * no history event and no database read. The counts are those the send batches reported to this
 * workflow (carried over continue-as-new); a batch attempt that failed after sending reported nothing,
 * so they may fall short of the database's. `GET /api/mailings/{id}/info/` gives the database's counts.
 */
export interface Progress {
  mailingId: number;
  phase: Phase;
  /** As the workflow last read them from the database. */
  startAt: string | null;
  endAt: string | null;
  /** Every matching client has a message (the audience recording finished). */
  audienceRecorded: boolean;
  batchesRun: number;
  batchesInFlight: number;
  /** Provider requests the batches made, and what came of them. */
  attempted: number;
  sent: number;
  failed: number;
  /** Answers that leave the message pending for another attempt. */
  retried: number;
  /** Messages pending when the last batch ended (null before any), and when the earliest of them is due. */
  pending: number | null;
  nextDueAt: string | null;
  /** Workflow time of the last batch report. */
  reportedAt: string | null;
  /** No batch starts before this while the provider looks down. */
  backingOffUntil: string | null;
}

/** What a run hands to the next one when it continues as new. */
export type ProgressCounts = Pick<Progress, 'batchesRun' | 'attempted' | 'sent' | 'failed' | 'retried'>;

/** `temporal workflow query --workflow-id mailing-N --type progress` */
export const progressQuery = defineQuery<Progress>('progress');

export function newProgress(mailingId: number, carried?: ProgressCounts): Progress {
  return {
    mailingId,
    phase: 'waiting for start',
    startAt: null,
    endAt: null,
    audienceRecorded: false,
    batchesRun: 0,
    batchesInFlight: 0,
    attempted: 0,
    sent: 0,
    failed: 0,
    retried: 0,
    pending: null,
    nextDueAt: null,
    reportedAt: null,
    backingOffUntil: null,
    ...carried,
  };
}

export function countsOf({ batchesRun, attempted, sent, failed, retried }: Progress): ProgressCounts {
  return { batchesRun, attempted, sent, failed, retried };
}

export function addReport(progress: Progress, report: BatchReport): void {
  progress.batchesRun++;
  progress.attempted += report.attempted;
  progress.sent += report.sent;
  progress.failed += report.failed;
  progress.retried += report.retried;
  progress.pending = report.pending;
  progress.nextDueAt = report.nextDueAt;
  progress.reportedAt = new Date().toISOString();
}

/**
 * The Web UI's "current details" of the run (answered from memory, like the query): a few lines
 * in Temporal's markdown.
 */
export function showProgress(progress: Progress): void {
  const lines = [`**${progress.phase}**`];
  if (progress.batchesRun > 0 || progress.phase === 'sending') {
    lines.push(`sent ${progress.sent} · failed ${progress.failed} · retried ${progress.retried} in ${progress.batchesRun} batches`);
    if (progress.pending !== null) lines.push(`pending ${progress.pending} at ${progress.reportedAt}${progress.audienceRecorded ? '' : ' (audience still being recorded)'}`);
  }
  if (progress.backingOffUntil) lines.push(`provider down: no batch before ${progress.backingOffUntil}`);
  setCurrentDetails(lines.join('\n\n'));
}
