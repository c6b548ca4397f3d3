import { Context } from '@temporalio/activity';
import type { BatchReport, MailingActivities } from '../../activities/mailing';
import type { MailingSchedule } from '../../storage/mailings';

/**
 * An in-memory stand-in for the mailing activities: a schedule the test edits, a number of pending
 * messages, and a log of calls, so workflow tests check orchestration alone.
 */
export class FakeMailing {
  schedule: MailingSchedule;
  pending: number;
  calls: string[] = [];
  /** Workflow time at which each call was scheduled (the test server's clock skips, the real one does not). */
  times: Record<string, number> = {};
  /** When set, a send batch holds on (heartbeating) until it is cancelled. */
  stall = false;
  batchesCancelled = 0;
  /** Messages one batch sends; the rest stay pending. */
  perBatch = Infinity;
  nextDueAt: string | null = null;

  constructor(startAt: Date, endAt: Date, pending: number) {
    this.schedule = { startAt: startAt.toISOString(), endAt: endAt.toISOString(), deleted: false };
    this.pending = pending;
  }

  private record(name: string) {
    this.calls.push(name);
    this.times[name] ??= Context.current().info.scheduledTimestampMs;
  }

  count(name: string): number {
    return this.calls.filter((c) => c === name).length;
  }

  activities(): MailingActivities {
    return {
      readSchedule: async () => {
        this.record('readSchedule');
        return this.schedule;
      },
      startSending: async () => {
        this.record('startSending');
        return this.pending;
      },
      syncAudience: async () => {
        this.record('syncAudience');
      },
      sendBatch: async (): Promise<BatchReport> => {
        this.record('sendBatch');
        if (this.stall) {
          const activity = Context.current();
          const beat = setInterval(() => activity.heartbeat(), 100);
          try {
            await activity.cancelled;
          } catch (error) {
            this.batchesCancelled++;
            throw error;
          } finally {
            clearInterval(beat);
          }
        }
        const sent = Math.min(this.pending, this.perBatch);
        this.pending -= sent;
        return { attempted: sent, sent, failed: 0, retried: 0, providerDown: false, pending: this.pending, nextDueAt: this.nextDueAt };
      },
      finishMailing: async (_id: number, reachedEnd: boolean) => {
        this.record(reachedEnd ? 'finishMailing:end' : 'finishMailing:done');
        return reachedEnd && this.pending > 0 ? 'expired' : 'finished';
      },
      cancelMailing: async () => {
        this.record('cancelMailing');
      },
    };
  }
}
