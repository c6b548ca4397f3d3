import type { ClaimOutcome } from '../storage/messages';

// Rows of one statement at most; the writes waiting beyond it go out in the next.
const MAX_ROWS = 5_000;

interface Waiting {
  entries: ClaimOutcome[];
  resolve: (written: number) => void;
  reject: (error: unknown) => void;
}

/**
 * Writes the outcomes of all the send batches of a worker: the writes asked for while one is under
 * way go out together as the next statement (one commit), so a worker running many batches at once
 * (many mailings) commits a few times per flush interval instead of once per batch, and an idle one
 * writes at once.
 */
export class OutcomeWriter {
  private waiting: Waiting[] = [];
  private writing = false;

  /** `record` writes outcomes in one statement and answers the ids written (storage's recordClaimOutcomes). */
  constructor(private readonly record: (entries: ClaimOutcome[]) => Promise<Set<number>>) {}

  /** Writes `entries`; answers how many were written (the others' claims were gone). */
  write(entries: ClaimOutcome[]): Promise<number> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ entries, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    if (this.writing || this.waiting.length === 0) return;
    let count = 0;
    let rows = 0;
    while (count < this.waiting.length && (count === 0 || rows + this.waiting[count].entries.length <= MAX_ROWS)) rows += this.waiting[count++].entries.length;
    const taken = this.waiting.splice(0, count);
    this.writing = true;
    // The next statement starts before the batches of this one hear how it went.
    const next = () => {
      this.writing = false;
      this.drain();
    };
    this.record(taken.flatMap((w) => w.entries)).then(
      (written) => {
        next();
        for (const w of taken) w.resolve(w.entries.filter((e) => written.has(e.outcome.id)).length);
      },
      (error) => {
        next();
        for (const w of taken) w.reject(error);
      },
    );
  }
}
