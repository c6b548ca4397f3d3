import type { Logger } from '../config/logger';
import type { ClaimOutcome, SendOutcome } from '../storage/messages';
import { logOutcomes } from './message-log';
import { countLeasesLost } from './metrics';

export interface OutcomeWriterTimes {
  /** How long an outcome waits for the statement that writes it: a crash loses only the answers of that window (and of requests in flight), whose messages are sent again. */
  flushIntervalMs: number;
  /** How long after a failed statement its outcomes are tried again. */
  retryDelayMs: number;
  /** Tries of an outcome before its batch fails with the last error: at 1 s apart, a database restart is ridden out. */
  attempts: number;
}

const TIMES: OutcomeWriterTimes = { flushIntervalMs: 50, retryDelayMs: 1_000, attempts: 30 };
// Rows of one statement at most; the outcomes waiting beyond it go out in the next, at once.
const MAX_ROWS = 5_000;

/** The outcomes of one send batch: it waits for them (`OutcomeWriter.settled`) before it reports. */
export interface BatchOutcomes {
  readonly mailingId: number;
  /** The batch's logger: the lines of its messages name its run and attempt. */
  readonly logger: Logger;
  unwritten: number;
  failure?: unknown;
  onChange?: () => void;
}

interface Waiting {
  entry: ClaimOutcome;
  batch: BatchOutcomes;
  tries: number;
}

/**
 * Writes the outcomes of all the send batches of a worker, the flush interval (50 ms) after the first that
 * waits, in one statement (one commit): however many batches run (lanes of a mailing, many mailings),
 * the worker writes once per interval at most, with as many rows as answers came. A statement that
 * fails is tried again with what came meanwhile; a batch fails only when one of its outcomes could
 * not be written in `attempts` tries.
 */
export class OutcomeWriter {
  private waiting: Waiting[] = [];
  private writing = false;
  /** The oldest waiting outcome's time is up (or a batch waits for its own): write once the statement under way is done. */
  private due = false;
  /** After a failed statement: nothing is written until the retry delay is over. */
  private pausing = false;
  private timer?: NodeJS.Timeout;
  private readonly times: OutcomeWriterTimes;

  /** `record` writes outcomes in one statement and answers the ids written (storage's recordClaimOutcomes). */
  constructor(
    private readonly record: (entries: ClaimOutcome[]) => Promise<Set<number>>,
    private readonly logger: Logger,
    times: Partial<OutcomeWriterTimes> = {},
  ) {
    this.times = { ...TIMES, ...times };
  }

  /** The longest an answer may wait to be written: the flush interval, then every retry of a failing statement. */
  get longestWaitMs(): number {
    return this.times.flushIntervalMs + this.times.attempts * this.times.retryDelayMs;
  }

  /** The account of one batch's outcomes. */
  batch(mailingId: number, logger: Logger): BatchOutcomes {
    return { mailingId, logger, unwritten: 0 };
  }

  /** Writes `entry` within the flush interval. */
  add(batch: BatchOutcomes, entry: ClaimOutcome): void {
    this.waiting.push({ entry, batch, tries: 0 });
    batch.unwritten++;
    if (this.waiting.length >= MAX_ROWS) this.writeNow();
    else this.timer ??= setTimeout(() => this.writeNow(), this.times.flushIntervalMs);
  }

  /**
   * Resolves once every outcome of `batch` is written (or found its claim gone: it is not written);
   * rejects when one could not be written in every try. What waits is written at once.
   */
  settled(batch: BatchOutcomes): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      batch.onChange = () => {
        if (batch.failure !== undefined) reject(batch.failure);
        else if (batch.unwritten === 0) resolve();
      };
    });
    batch.onChange!();
    if (batch.unwritten > 0) this.writeNow();
    return done;
  }

  private writeNow(): void {
    this.due = true;
    if (this.writing || this.pausing || this.waiting.length === 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.due = false;
    const taken = this.waiting.splice(0, MAX_ROWS);
    if (this.waiting.length > 0) this.due = true;
    this.writing = true;
    this.record(taken.map((w) => w.entry)).then(
      (written) => this.settle(taken, written),
      (error) => this.retry(taken, error),
    );
  }

  private settle(taken: Waiting[], written: Set<number>): void {
    this.writing = false;
    // The next statement starts before the batches of this one hear how it went.
    if (this.due) this.writeNow();
    countLeasesLost('superseded', taken.length - written.size);
    // Each batch of the statement, with its outcomes that were written.
    const byBatch = new Map<BatchOutcomes, SendOutcome[]>();
    for (const { entry, batch } of taken) {
      batch.unwritten--;
      let outcomes = byBatch.get(batch);
      if (!outcomes) byBatch.set(batch, (outcomes = []));
      if (written.has(entry.outcome.id)) outcomes.push(entry.outcome);
    }
    for (const [batch, outcomes] of byBatch) {
      logOutcomes(batch.logger, batch.mailingId, outcomes);
      batch.onChange?.();
    }
  }

  private retry(taken: Waiting[], error: unknown): void {
    this.writing = false;
    const again = taken.filter((w) => ++w.tries < this.times.attempts);
    this.logger.warn({ err: error, outcomes: taken.length, tries: taken[0].tries }, 'could not record send outcomes; trying again');
    for (const { batch } of taken.filter((w) => w.tries >= this.times.attempts)) {
      batch.failure ??= error;
      batch.onChange?.();
    }
    this.waiting.unshift(...again);
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiting.length === 0) return;
    this.pausing = true;
    this.timer = setTimeout(() => {
      this.pausing = false;
      this.writeNow();
    }, this.times.retryDelayMs);
  }
}
