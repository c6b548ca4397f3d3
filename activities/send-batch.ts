import type { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Sema } from 'async-sema';
import { setMaxListeners } from 'node:events';
import type { Logger } from '../config/logger';
import * as mailings from '../storage/mailings';
import type { SendingTerms } from '../storage/mailings';
import * as messages from '../storage/messages';
import type { ClaimedMessage, SendOutcome } from '../storage/messages';
import { ClaimSize } from './claim-size';
import { logClaimed } from './message-log';
import { countClaimed, countLeasesLost, countOutcome } from './metrics';
import type { BatchOutcomes, OutcomeWriter } from './outcome-writer';
import type { Delivery, Provider } from './provider';
import type { RateLimiter } from './rate-limit';
import { toOutcome, type SendingPolicy } from './send-outcome';
import { nextOpening, type Opening } from './send-window';

export interface BatchReport {
  attempted: number;
  sent: number;
  failed: number;
  retried: number;
  /** The provider looked down (connections refused): the workflow should pause before the next batch. */
  providerDown: boolean;
  /** The end time has passed by the database's clock: what is pending can only expire. */
  ended: boolean;
  /** The mailing changed under the batch (a new filter, paused, deleted): the workflow should read it again. */
  stale: boolean;
  pending: number;
  /** When a batch that could start nothing ends: when the earliest pending message becomes due (else null). */
  nextDueAt: string | null;
}

export interface BatchDeps {
  activity: Context;
  provider: Provider;
  rateLimiter: RateLimiter;
  slots: Sema;
  /** Shared by the worker's batches: their outcomes are written together. */
  outcomes: OutcomeWriter;
  /**
   * Per mailing, the highest id a batch of this worker claimed: where the next batch starts. Claims
   * walk the mailing's messages in id order; a batch that started from the first id walked every
   * message already sent, and a mailing that has just started is not in the planner's statistics, so
   * that walk went through all of them (25 ms per claim 77,000 messages in, by EXPLAIN ANALYZE).
   */
  fronts: Map<number, number>;
  policy: SendingPolicy;
  logger: Logger;
}

// Timers cannot be longer; a mailing may end later than that.
const MAX_TIMER_MS = 2 ** 31 - 1;
// The mailing's text and end time are read again when older than this, so an edit reaches requests not
// yet started within it; an edit may move a running mailing's end no closer than END_NOTICE_MS (domain).
const TERMS_TTL_MS = 1_000;
// No request starts this close to the end: covers the time a request takes to leave this process.
const END_MARGIN_MS = 50;
// A batch reports back within about this long (and the requests it started), whatever its size: a slow
// provider, a low SEND_RATE_LIMIT or many mailings sharing the worker's slots never run it into its
// start-to-close timeout, and the mailing's progress moves on.
const BATCH_TIME_LIMIT_MS = 60_000;

/** A mailing row that does not exist cannot come back by retrying. */
const mailingNotFound = (mailingId: number) => ApplicationFailure.nonRetryable(`mailing ${mailingId} does not exist`, 'MailingNotFound');

/**
 * One run of the send activity: claims due messages of a mailing, sends them with at most
 * `policy.concurrency` requests in flight on this worker and has each outcome written (OutcomeWriter), until
 * `limit` requests have started or its time limit has passed.
 * No request starts at or after the mailing's end time (by the database's clock, measured here on the
 * monotonic clock) or after a cancellation.
 */
export class SendBatch {
  private readonly report: BatchReport = { attempted: 0, sent: 0, failed: 0, retried: 0, providerDown: false, ended: false, stale: false, pending: 0, nextDueAt: null };
  private readonly outcomes: BatchOutcomes;
  /** Requests started and not yet ended, and what to call once none is left. */
  private inFlight = 0;
  private allEnded?: () => void;
  private queue: ClaimedMessage[] = [];
  private token = '';
  private claimedAt = 0;
  /** How many messages the last claim got, and how many the next may. */
  private claimedCount = 0;
  private readonly claimSize: ClaimSize;
  private claimedUpTo = 0;
  private terms!: SendingTerms;
  private initialFilter = '';
  /** The filter of the latest terms, as JSON: compared with the first on every request, so made once per read. */
  private filter = '';
  /** When (performance.now()) the terms were asked for, and the last moment a request may start. */
  private termsReadAt = -Infinity;
  private termsReading?: Promise<boolean>;
  private deadline = 0;
  /** The end time the `stop` and `abandon` signals were made for. */
  private signalsEndAt = NaN;
  /** Ends the starting of requests: a cancellation of any kind, or the end time. */
  private stop: AbortSignal;
  /**
   * Ends the requests in flight: the end time, or a cancellation the workflow asked for (a delete, the
   * end as the workflow saw it). A batch cancelled for another reason (its workflow terminated, its attempt timed out,
   * the worker stopping) lets them finish and records their answers, because the mailing carries on
   * elsewhere: an answer thrown away would have its message sent again.
   */
  private abandon: AbortSignal;
  private readonly cancelRequested = new AbortController();
  private unreachableStreak = 0;
  private unauthorizedLogged = false;
  /** The next opening of the send window per zone, valid until it closes. */
  private readonly openings = new Map<string, Opening>();
  /** A request that could not be made at all (bad configuration): nothing more starts, and the batch fails with it. */
  private failure?: unknown;
  // A lease outlives any request of the batch (started within claimTtlMs of the claim, lasting at most
  // requestTimeoutMs) and the writing of its answer (through a database restart: the outcome writer's
  // retries), so only a batch that died loses its messages to another, never one whose answers are
  // still on their way; messages still unsent when their claim is about to run out are left to whoever
  // claims them next.
  private readonly leaseMs: number;
  private readonly claimTtlMs: number;

  constructor(
    private readonly deps: BatchDeps,
    private readonly mailingId: number,
    private readonly limit: number,
  ) {
    const { activity } = deps;
    activity.cancellationSignal.addEventListener(
      'abort',
      () => {
        if (activity.cancellationDetails?.cancelRequested ?? true) this.cancelRequested.abort(activity.cancellationSignal.reason);
      },
      { once: true },
    );
    this.stop = activity.cancellationSignal;
    this.abandon = this.cancelRequested.signal;
    this.outcomes = deps.outcomes.batch(mailingId, deps.logger);
    this.claimSize = new ClaimSize(deps.policy.concurrency);
    this.claimTtlMs = deps.policy.requestTimeoutMs + 4_000;
    this.leaseMs = this.claimTtlMs + deps.policy.requestTimeoutMs + deps.outcomes.longestWaitMs + 1_000;
  }

  async run(): Promise<BatchReport> {
    const { activity, slots } = this.deps;
    const alive = setInterval(() => {
      // Beats even while every slot waits on a stalled request, so a short heartbeat timeout detects only
      // a batch whose worker died.
      activity.heartbeat(this.report.attempted);
      // A pause or a delete reaches the batch by its terms within about a second, even while it starts
      // nothing; the cancellation that follows comes with the answer to a heartbeat, seconds later.
      if (performance.now() - this.termsReadAt > TERMS_TTL_MS) this.refreshTerms().catch(() => undefined);
    }, 1000);
    try {
      if (!(await this.refreshTerms())) throw mailingNotFound(this.mailingId);
      // A new filter ends the batch early, so that the workflow re-syncs the audience first.
      this.initialFilter = this.filter;
      const startedAt = performance.now();
      const timeLimitMs = this.deps.policy.batchTimeLimitMs ?? BATCH_TIME_LIMIT_MS;
      // At least one request, even after a whole time limit spent waiting for a slot: a batch that
      // attempted nothing tells the workflow that nothing is due.
      const inTime = () => this.report.attempted === 0 || performance.now() - startedAt < timeLimitMs;
      try {
        while (this.report.attempted < this.limit && !this.report.providerDown) {
          await slots.acquire();
          let launched = false;
          try {
            const next = inTime() && this.launchNext();
            launched = typeof next === 'boolean' ? next : await next;
          } finally {
            if (!launched) slots.release();
          }
          if (!launched) break;
        }
      } finally {
        // Even when the batch fails (say, the database went away), the answers it got are written.
        await this.requestsEnded();
        await this.deps.outcomes.settled(this.outcomes);
      }
      if (performance.now() - this.claimedAt < this.claimTtlMs) await messages.releaseLeases(this.token, this.queue.map((m) => m.id));
      if (this.failure !== undefined) throw this.failure;
      this.report.ended = this.terms.msLeft <= 0 || performance.now() >= this.deadline + END_MARGIN_MS;
      this.report.stale = this.terms.deleted || this.terms.status !== 'running' || this.filter !== this.initialFilter;
      Object.assign(this.report, await messages.pendingSummary(this.mailingId, this.report.attempted === 0));
    } finally {
      clearInterval(alive);
      // No request is left: the signal they were given is let go. Until it fires, a signal with a listener
      // (the provider's) lives as long as its end timer, the mailing's end, however many batches ended.
      this.cancelRequested.abort(new Error('send batch over'));
    }
    this.deps.logger.info({ mailingId: this.mailingId, ...this.report }, 'send batch done');
    if (activity.cancellationSignal.aborted) await activity.cancelled;
    return this.report;
  }

  /**
   * Starts the next request in an acquired slot; false when there is nothing more to start. Answers
   * a promise only when it has to wait (for a claim, a rate token or a read of the terms): most
   * requests start without one.
   */
  private launchNext(): boolean | Promise<boolean> {
    for (;;) {
      if (this.queue.length === 0) return this.claim().then((claimed) => claimed && this.launchNext());
      if (!this.cancelLeftOut(this.queue[0]) && !this.waitForWindow(this.queue[0])) break;
      this.queue.shift();
    }
    const token = this.deps.rateLimiter.acquire();
    if (!token && performance.now() - this.termsReadAt <= TERMS_TTL_MS) return this.launchFirst();
    return (async () => {
      await token;
      if (performance.now() - this.termsReadAt > TERMS_TTL_MS) await this.refreshTerms();
      // The wait may have outlasted the client's send window.
      if (this.queue.length > 0 && this.waitForWindow(this.queue[0])) {
        this.queue.shift();
        return this.launchNext();
      }
      return this.launchFirst();
    })();
  }

  /** With a rate token: starts the first message queued, unless sending must stop or its claim is about to run out. */
  private launchFirst(): boolean | Promise<boolean> {
    if (!this.maySend()) return false;
    if (performance.now() - this.claimedAt > this.claimTtlMs) {
      // Messages whose lease is about to run out are left to the next claimer.
      countLeasesLost('expiring', this.queue.length);
      this.queue = [];
      return this.launchNext();
    }
    const message = this.queue.shift()!;
    this.report.attempted++;
    this.inFlight++;
    void this.deliver(this.token, message, this.terms.text);
    return true;
  }

  /** A message whose client the mailing's filter no longer matches (an edit left it out) is cancelled, with no request. */
  private cancelLeftOut(message: ClaimedMessage): boolean {
    if (!message.leftOut) return false;
    const outcome: SendOutcome = { id: message.id, status: 'cancelled', error: messages.LEFT_OUT, retryAt: null, attempted: false };
    this.deps.outcomes.add(this.outcomes, { token: this.token, outcome });
    countOutcome('cancelled');
    return true;
  }

  /**
   * A message whose client's local time is outside the mailing's send window is not sent: it becomes
   * due again when the window next opens (in the client's zone as it is now), without an attempt.
   */
  private waitForWindow(message: ClaimedMessage): boolean {
    const window = this.terms.sendWindow;
    if (!window || !message.timezone) return false;
    const now = Date.now();
    const key = `${message.timezone} ${window.from}-${window.to}`;
    let opening = this.openings.get(key);
    if (!opening || now >= opening.until) this.openings.set(key, (opening = nextOpening(message.timezone, window, now)));
    if (opening.at <= now) return false;
    const outcome: SendOutcome = { id: message.id, status: 'pending', error: null, retryAt: new Date(opening.at), attempted: false };
    this.deps.outcomes.add(this.outcomes, { token: this.token, outcome });
    return true;
  }

  private maySend(): boolean {
    const { terms } = this;
    return (
      this.failure === undefined &&
      !this.stop.aborted &&
      terms.status === 'running' &&
      !terms.deleted &&
      this.filter === this.initialFilter &&
      performance.now() < this.deadline
    );
  }

  /** Reads the terms, once at a time: the requests being started and the heartbeat's timer may both ask. */
  private refreshTerms(): Promise<boolean> {
    return (this.termsReading ??= this.readTerms().finally(() => (this.termsReading = undefined)));
  }

  /**
   * Reads the mailing's text, filter and time left by the database's clock, so that an edit applies to
   * messages not yet sent and the end time holds whatever this machine's clock says. A delete
   * abandons the requests in flight, as its cancellation would.
   */
  private async readTerms(): Promise<boolean> {
    const askedAt = performance.now();
    const terms = await mailings.readSendingTerms(this.mailingId);
    if (!terms) return false;
    this.terms = terms;
    this.filter = JSON.stringify(terms.filter);
    this.termsReadAt = askedAt;
    this.deadline = askedAt + terms.msLeft - END_MARGIN_MS;
    if (terms.endAt.getTime() !== this.signalsEndAt) this.signalEnd(terms.endAt.getTime());
    if (terms.deleted) this.cancelRequested.abort(new Error('mailing deleted'));
    return true;
  }

  /**
   * The signals that the end time (or a cancellation) fires, made again only when the end time changes:
   * each timer lives until its end, weeks away, so one per read of the terms would pile up.
   */
  private signalEnd(endAt: number): void {
    this.signalsEndAt = endAt;
    const untilEnd = Math.max(0, this.deadline - performance.now());
    const ended = AbortSignal.timeout(Math.ceil(Math.min(untilEnd, MAX_TIMER_MS)));
    this.stop = AbortSignal.any([this.deps.activity.cancellationSignal, ended]);
    this.abandon = AbortSignal.any([this.cancelRequested.signal, ended]);
    // A provider may listen to it once per request in flight (the HTTP client listens once per batch); that is by design, not a leak.
    setMaxListeners(0, this.abandon);
  }

  private async claim(): Promise<boolean> {
    // Terms as fresh as for a request: a pause or a delete cancels the batch, and an edit may take TERMS_TTL_MS.
    if (performance.now() - this.termsReadAt > TERMS_TTL_MS && !(await this.refreshTerms())) return false;
    if (!this.maySend()) return false;
    if (this.claimedCount > 0) this.claimSize.usedUp(this.claimedCount, performance.now() - this.claimedAt);
    const want = Math.min(this.claimSize.value, this.limit - this.report.attempted);
    this.claimedUpTo ||= this.deps.fronts.get(this.mailingId) ?? 0;
    // The lease runs from the database's clock during the claim: counted from before it was asked for.
    let askedAt = performance.now();
    let claim = await messages.claimDue(this.mailingId, want, this.leaseMs, { afterId: this.claimedUpTo });
    if (claim.messages.length === 0 && this.claimedUpTo > 0) {
      // Past the last due message: what the front passed (retries, released leases, opened windows) comes next.
      this.claimedUpTo = 0;
      askedAt = performance.now();
      claim = await messages.claimDue(this.mailingId, want, this.leaseMs);
    }
    this.claimedAt = askedAt;
    this.token = claim.token;
    this.queue = claim.messages;
    this.claimedCount = claim.messages.length;
    countClaimed(claim.messages.length);
    logClaimed(this.deps.logger, this.mailingId, claim.messages);
    if (this.queue.length > 0) {
      this.claimedUpTo = Math.max(this.claimedUpTo, this.queue[this.queue.length - 1].id);
      this.deps.fronts.set(this.mailingId, Math.max(this.deps.fronts.get(this.mailingId) ?? 0, this.claimedUpTo));
    } else this.deps.fronts.delete(this.mailingId);
    return this.queue.length > 0;
  }

  /** Resolves once every request started has ended and its outcome is recorded. */
  private requestsEnded(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => (this.allEnded = resolve));
  }

  /** Sends one message in its slot and records its outcome (cancelled, with no request, when its client was deleted); never rejects. */
  private async deliver(token: string, message: ClaimedMessage, text: string): Promise<void> {
    try {
      const delivery = message.phone ? await this.deps.provider.send({ id: message.id, phone: message.phone, text, mailingId: this.mailingId }, this.abandon) : null;
      this.record(token, message, delivery);
    } catch (error) {
      this.failure ??= error;
    } finally {
      this.deps.slots.release();
      if (--this.inFlight === 0) this.allEnded?.();
    }
  }

  private record(token: string, message: ClaimedMessage, delivery: Delivery | null): void {
    const { policy, logger } = this.deps;
    const { mailingId, report } = this;
    if (!delivery) {
      this.deps.outcomes.add(this.outcomes, { token, outcome: { id: message.id, status: 'cancelled', error: 'client was deleted', retryAt: null, attempted: false } });
      countOutcome('cancelled');
      return;
    }
    this.deps.outcomes.add(this.outcomes, { token, outcome: toOutcome(policy, message, delivery, this.terms.endAt.getTime() - END_MARGIN_MS, this.terms.sendWindow) });
    report[delivery.result === 'retry' ? 'retried' : delivery.result]++;
    countOutcome(delivery.result === 'retry' ? 'retried' : delivery.result);
    this.unreachableStreak = delivery.result === 'retry' && delivery.unreachable ? this.unreachableStreak + 1 : 0;
    if (this.unreachableStreak >= policy.outageThreshold) report.providerDown = true;
    if (delivery.result === 'retry') {
      if (delivery.unauthorized && !this.unauthorizedLogged) {
        this.unauthorizedLogged = true;
        logger.error({ mailingId, messageId: message.id }, delivery.error);
      }
      logger.debug({ mailingId, messageId: message.id, error: delivery.error }, 'send will be retried');
    }
  }
}
