import { Context } from '@temporalio/activity';
import type { BatchReport, MailingActivities, StartClaim } from '../../activities/mailing';
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
  /** When set, a send batch (or the audience recording) holds on, heartbeating, until it is cancelled. */
  stall = false;
  stallRecording = false;
  /** While set, the audience recording holds on (heartbeating) until `recordingDone()` is called. */
  private recordingGate?: { done: Promise<void>; open: () => void };
  /** Only the first send batch holds on until it is cancelled. */
  stallFirstBatch = false;
  batchesCancelled = 0;
  /** Messages one batch sends; the rest stay pending. */
  perBatch = Infinity;
  nextDueAt: string | null = null;
  /** What the next start claims answer before the default `started` (the database's view). */
  claims: StartClaim[] = [];
  /** Batches report the end as passed by the database's clock. */
  endedByDatabase = false;
  /** When set, one message per entry, each sent only once the workflow's time reaches it (send windows). */
  dueTimes?: number[];
  /** Workflow time at which each message of `dueTimes` was sent, and of each batch start. */
  sentAt: number[] = [];
  batchTimes: number[] = [];
  /** The first this many batches find the provider down. */
  providerDownBatches = 0;

  constructor(startAt: Date, endAt: Date, pending: number) {
    this.schedule = { status: 'scheduled', startAt: startAt.toISOString(), endAt: endAt.toISOString(), deleted: false, audienceDone: false };
    this.pending = pending;
  }

  private record(name: string) {
    this.calls.push(name);
    this.times[name] ??= Context.current().info.scheduledTimestampMs;
  }

  holdRecording(): void {
    let open!: () => void;
    const done = new Promise<void>((resolve) => (open = resolve));
    this.recordingGate = { done, open };
  }

  recordingDone(): void {
    this.recordingGate?.open();
  }

  count(name: string): number {
    return this.calls.filter((c) => c === name).length;
  }

  private async holdUntilCancelled(): Promise<void> {
    const activity = Context.current();
    const beat = setInterval(() => activity.heartbeat(), 100);
    try {
      await activity.cancelled;
    } finally {
      clearInterval(beat);
    }
  }

  activities(): MailingActivities {
    const finishMailing = async (_id: number, reachedEnd: boolean) => {
      this.record(reachedEnd ? 'finishMailing:end' : 'finishMailing:done');
      if (!reachedEnd && !this.schedule.audienceDone) return 'running' as const;
      const status = reachedEnd && this.pending > 0 ? 'expired' : 'finished';
      this.schedule = { ...this.schedule, status };
      return status;
    };
    const recordAudience = async () => {
      this.record('recordAudience');
      if (this.recordingGate) {
        const activity = Context.current();
        const beat = setInterval(() => activity.heartbeat(), 100);
        await this.recordingGate.done.finally(() => clearInterval(beat));
        this.calls.push('recordAudience:stopped');
      }
      if (this.stallRecording) {
        try {
          await this.holdUntilCancelled();
        } finally {
          this.calls.push('recordAudience:stopped');
        }
      }
      this.schedule = { ...this.schedule, audienceDone: true };
      return this.pending;
    };
    return {
      readSchedule: async () => {
        this.record('readSchedule');
        return this.schedule;
      },
      claimStart: async () => {
        this.record('claimStart');
        const claim = this.claims.shift() ?? { result: 'started' };
        if (claim.result === 'missed') this.schedule = { ...this.schedule, status: 'expired' };
        if (claim.result !== 'started') return claim;
        this.schedule = { ...this.schedule, status: 'running' };
        // As the real claim does: the schedule once the first clients are recorded.
        return { ...claim, schedule: this.schedule };
      },
      recordAudience,
      sendBatch: async (): Promise<BatchReport> => {
        this.record('sendBatch');
        if (this.stall || (this.stallFirstBatch && this.count('sendBatch') === 1)) {
          try {
            await this.holdUntilCancelled();
          } catch (error) {
            this.batchesCancelled++;
            throw error;
          }
        }
        const now = Context.current().info.scheduledTimestampMs;
        this.batchTimes.push(now);
        if (this.batchTimes.length <= this.providerDownBatches) {
          return { attempted: 20, sent: 0, failed: 0, retried: 20, providerDown: true, ended: false, stale: false, pending: this.pending, nextDueAt: null };
        }
        if (this.dueTimes) {
          const due = this.dueTimes.filter((t) => t <= now);
          this.dueTimes = this.dueTimes.filter((t) => t > now);
          this.sentAt.push(...due.map(() => now));
          this.pending = this.dueTimes.length;
          const nextDueAt = this.pending ? new Date(Math.min(...this.dueTimes)).toISOString() : null;
          return { attempted: due.length, sent: due.length, failed: 0, retried: 0, providerDown: false, ended: false, stale: false, pending: this.pending, nextDueAt };
        }
        const sent = Math.min(this.pending, this.perBatch);
        this.pending -= sent;
        return { attempted: sent, sent, failed: 0, retried: 0, providerDown: false, ended: this.endedByDatabase, stale: false, pending: this.pending, nextDueAt: this.nextDueAt };
      },
      finishMailing,
      cancelMailing: async () => {
        this.record('cancelMailing');
        this.schedule = { ...this.schedule, status: 'cancelled', deleted: true };
      },
      startSending: async () => {
        this.record('startSending');
        return this.pending;
      },
      syncAudience: async () => {
        this.record('syncAudience');
      },
    };
  }
}
