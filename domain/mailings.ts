import { Client, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import type { Logger } from '../config/logger';
import * as audience from '../storage/audience';
import { readMailingInfo, readMailingSummary } from '../storage/mailing-statistics';
import * as lifecycle from '../storage/mailing-lifecycle';
import * as store from '../storage/mailings';
import type { AudienceFilter, Mailing, MailingFields } from '../storage/mailings';
import type { StatusCounts } from '../storage/mailing-counts';
import type { Page, PageRequest } from '../storage/page';
import { MAILING_ID, mailingChanged, mailingWorkflow, mailingWorkflowId, pauseSending, SendLimits } from '../workflows/mailing';
import type { components } from '../contract/schema';
import { ConflictError, InvalidInputError, MalformedInputError, NotFoundError, UnavailableError } from './errors';
import { runDetails, runSummary, type AudienceSize } from './run-summary';

export type MailingInput = components['schemas']['MailingInput'];
export type MailingSummaryPage = components['schemas']['MailingSummaryPage'];
export type MailingInfo = components['schemas']['MailingInfo'];
export type AudienceQuery = components['schemas']['AudienceQuery'];
export type AudiencePreview = components['schemas']['AudiencePreview'];

export interface MailingServiceDeps {
  temporal: Client;
  taskQueue: string;
  limits: SendLimits;
  /** How long a delete waits for the workflow to stop sending before it answers anyway. */
  stopWaitMs: number;
  logger: Logger;
  /** Open mailings the reconciler reads per statement (RECONCILE_PAGE unless set; tests make it small). */
  reconcilePage?: number;
}

/**
 * The least time a running mailing's new end may lie ahead: batches re-read the end every second, so
 * an edit answered 200 reaches every request not yet started before the new end comes.
 */
export const END_NOTICE_MS = 5_000;
// A PATCH merged again this many times, another edit landing before it each time, is refused (409).
const PATCH_ATTEMPTS = 3;

/** Another edit saved between a patch's read and its write: the patch is merged again. */
class EditOverlapped extends Error {}
// Open mailings the reconciler reads per statement, and how many of their workflows it checks at once.
const RECONCILE_PAGE = 1_000;
const RECONCILE_PARALLEL = 8;
// A run stops reading pages after this long: its activity has a minute (workflows/reconcile.ts).
const RECONCILE_BUDGET_MS = 30_000;

const asList = <T>(value: T | T[] | undefined): T[] | undefined =>
  value === undefined ? undefined : [...new Set(Array.isArray(value) ? value : [value])];

function normaliseFilter(filter: MailingInput['filter'] = {}): AudienceFilter {
  const stored: AudienceFilter = {};
  const codes = asList(filter.mobile_operator_code);
  const tags = asList(filter.tag);
  if (codes) stored.mobile_operator_code = codes;
  if (tags) stored.tag = tags;
  return stored;
}

/** A send window as given (null for any time); one whose ends are the same time is refused. */
function sendWindow(window: MailingInput['send_window']) {
  if (window && window.from === window.to) throw new MalformedInputError('send_window.from and send_window.to must differ', 'send_window');
  return window ?? null;
}

function toFields(input: MailingInput): MailingFields {
  const start = Date.parse(input.start_at);
  const end = Date.parse(input.end_at);
  if (end <= start) throw new InvalidInputError('end_at must be after start_at', 'end_at');
  if (end <= Date.now()) throw new InvalidInputError('end_at has already passed', 'end_at');
  const window = sendWindow(input.send_window);
  return {
    start_at: new Date(start).toISOString(),
    end_at: new Date(end).toISOString(),
    text: input.text,
    filter: normaliseFilter(input.filter),
    send_window: window,
  };
}

// Progress reports the send rate over this many seconds, or over this many sends when they took less:
// a fast mailing's rate then costs a thousand index entries, not a minute of sends.
const PROGRESS_RATE_WINDOW_S = 60;
const PROGRESS_RATE_SENDS = 1_000;

/**
 * Audience (recorded once started or ended, else matching now), send rate over the last minute and when
 * the pending messages would be done at that rate; read from counters and an index, never counting every message.
 */
async function progress(mailing: Mailing, counts: StatusCounts, recent: { sent: number; overSeconds: number }, started: boolean, firstSentAt: string | null): Promise<MailingInfo['progress']> {
  const recorded = Object.values(counts).reduce((sum, n) => sum + n, 0);
  const audienceFixed = started || lifecycle.FINAL_STATUSES.includes(mailing.status);
  const { clients, estimated } = audienceFixed ? { clients: recorded, estimated: false } : await audience.countMatching(mailing.filter);
  // Over the last minute, or since the first send when that was less than a minute ago, or over the last
  // PROGRESS_RATE_SENDS sends when there were more.
  const sendingFor = firstSentAt ? (Date.now() - Date.parse(firstSentAt)) / 1000 : PROGRESS_RATE_WINDOW_S;
  const rate =
    recent.sent >= PROGRESS_RATE_SENDS ? recent.sent / Math.max(0.01, recent.overSeconds) : recent.sent / Math.min(PROGRESS_RATE_WINDOW_S, Math.max(1, sendingFor));
  const finishAt = mailing.status === 'running' && rate > 0 ? Math.min(Date.now() + (counts.pending / rate) * 1000, Date.parse(mailing.end_at)) : null;
  return { audience: clients, audience_estimated: estimated, rate_per_second: Math.round(rate * 100) / 100, estimated_finish_at: finishAt === null ? null : new Date(finishAt).toISOString() };
}

/** The client side of the mailing workflow: every change to a mailing goes through here. */
export function createMailingService({ temporal, taskQueue, limits, stopWaitMs, logger, reconcilePage = RECONCILE_PAGE }: MailingServiceDeps) {
  const handle = (id: number) => temporal.workflow.getHandle(mailingWorkflowId(id));
  /** Where a run of the reconciler that ran out of time stopped (0: it looked at every open mailing). */
  let reconciledUpTo = 0;

  /**
   * Idempotent: a running workflow is kept; a closed one (terminated, failed, timed out, or ended while
   * its mailing was not final) is followed by a new run, which picks up from the mailing's state.
   * A new run shows the mailing (and its audience, when counted) as its summary in the Web UI.
   */
  async function ensureWorkflow(mailing: Mailing, audience?: AudienceSize): Promise<void> {
    await temporal.workflow.start(mailingWorkflow, {
      taskQueue,
      workflowId: mailingWorkflowId(mailing.id),
      args: [{ mailingId: mailing.id, limits }],
      typedSearchAttributes: [{ key: MAILING_ID, value: mailing.id }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      staticSummary: runSummary(mailing),
      staticDetails: runDetails(mailing, audience),
    });
  }

  /** Cancels the workflow and waits until it has stopped sending; a mailing with no workflow is closed here. */
  async function stopSending(id: number): Promise<void> {
    try {
      await handle(id).cancel();
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) {
        logger.error({ mailingId: id, err: error }, 'could not cancel the workflow of a deleted mailing');
        throw new UnavailableError(`mailing ${id} was deleted but its sending could not be stopped yet; repeat the request`);
      }
      await lifecycle.closeDeleted(id);
      return;
    }
    const wait = AbortSignal.timeout(stopWaitMs);
    // A run that ended in any way (cancelled, as asked, or failed, terminated, timed out) has stopped;
    // a wait cut short (Temporal out of reach, the time up) has not found out.
    const stopped = await temporal.withAbortSignal(wait, () => handle(id).result()).then(
      () => true,
      (error) => !wait.aborted && (error instanceof WorkflowFailedError || error instanceof WorkflowNotFoundError),
    );
    if (!stopped) {
      logger.warn({ mailingId: id }, 'deleted mailing workflow has not stopped yet');
      throw new UnavailableError(`mailing ${id} is deleted but still stopping; repeat the request to wait again`);
    }
  }

  async function get(id: number): Promise<Mailing> {
    const mailing = await store.findMailing(id);
    if (!mailing) throw new NotFoundError(`mailing ${id} does not exist`);
    return mailing;
  }

  /** Saves `input`; with `base` (a PATCH: the mailing the patch was merged into), only if no other edit came since. */
  async function edit(id: number, input: MailingInput, base?: Mailing): Promise<Mailing> {
    const current = base ?? (await get(id));
    if (!lifecycle.EDITABLE_STATUSES.includes(current.status)) {
      throw new ConflictError(`mailing ${id} is ${current.status} and can no longer be edited`, 'status');
    }
    const fields = toFields(input);
    // Running or paused: the start is behind it (or a resume away); the rest applies to unsent messages.
    if (current.status !== 'scheduled') {
      if (Date.parse(fields.start_at) !== Date.parse(current.start_at)) {
        throw new ConflictError(`mailing ${id} is ${current.status}; its start_at can no longer change`, 'start_at');
      }
      if (Date.parse(fields.end_at) !== Date.parse(current.end_at) && Date.parse(fields.end_at) < Date.now() + END_NOTICE_MS) {
        throw new InvalidInputError(`a running mailing's end_at must be at least ${END_NOTICE_MS / 1000} s from now`, 'end_at');
      }
    }
    // Saved only in the status read above: an edit that races the start is refused, never ignored.
    const updated = await lifecycle.applyEdit(id, fields, current.status, base);
    if (!updated) {
      const now = await store.findMailing(id);
      if (base && now?.status === current.status) throw new EditOverlapped();
      if (now?.status === 'running' && Date.parse(fields.start_at) !== Date.parse(now.start_at)) {
        throw new ConflictError(`mailing ${id} started while being edited; its start_at can no longer change`, 'start_at');
      }
      throw new ConflictError(`mailing ${id} changed status while being edited; read it and retry`, 'status');
    }
    await tellWorkflow(id);
    logger.info({ mailingId: id }, 'mailing edited');
    return updated;
  }

  /** The workflow reads the mailing again; one not started yet reads it when the reconciler starts it. */
  async function tellWorkflow(id: number): Promise<void> {
    try {
      await handle(id).signal(mailingChanged);
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) {
        logger.error({ mailingId: id, err: error }, 'saved a mailing change but could not tell its workflow');
        throw new UnavailableError(`mailing ${id} was saved but its workflow could not be told; repeat the request`);
      }
    }
  }

  /**
   * Pauses in the database first (a compare-and-set: nothing starts or sends once it holds), then, for a
   * running mailing, waits until its workflow has no send batch left, so no request starts after the
   * answer. Idempotent: a pause of a paused mailing (a repeat after a 503, a pause that raced another)
   * waits for the batches as the first did.
   */
  async function pause(id: number): Promise<Mailing> {
    const current = await get(id);
    if (current.status === 'paused') return pausedAlready(id);
    // What it paused is what the row was then: a start may have come since the read above.
    const paused = await lifecycle.pause(id);
    if (!paused) {
      const now = await get(id);
      if (now.status === 'paused') return pausedAlready(id);
      throw new ConflictError(`mailing ${id} is ${now.status} and cannot be paused`, 'status');
    }
    logger.info({ mailingId: id }, 'mailing paused');
    if (paused === 'scheduled') await tellWorkflow(id);
    else await waitForBatchesToStop(id);
    return get(id);
  }

  /** One paused before its start has no batches; the workflow of one paused while sending answers once none is left. */
  async function pausedAlready(id: number): Promise<Mailing> {
    if (await lifecycle.hasStarted(id)) await waitForBatchesToStop(id);
    return get(id);
  }

  async function waitForBatchesToStop(id: number): Promise<void> {
    const wait = AbortSignal.timeout(stopWaitMs);
    try {
      await temporal.withAbortSignal(wait, () => handle(id).executeUpdate(pauseSending));
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return;
      logger.warn({ mailingId: id, err: error }, 'paused mailing has not confirmed that sending stopped');
      throw new UnavailableError(`mailing ${id} is paused but sending has not confirmed it stopped; repeat the request`);
    }
  }

  /** Back to scheduled or running, where it stopped; resuming one that is not paused is harmless. */
  async function resume(id: number): Promise<Mailing> {
    const current = await get(id);
    if (current.status !== 'paused') {
      if (lifecycle.FINAL_STATUSES.includes(current.status)) throw new ConflictError(`mailing ${id} is ${current.status} and cannot be resumed`, 'status');
      return current;
    }
    if (!(await lifecycle.resume(id))) throw new ConflictError(`mailing ${id} changed status while being resumed; read it and retry`, 'status');
    logger.info({ mailingId: id }, 'mailing resumed');
    await tellWorkflow(id);
    return get(id);
  }

  return {
    ensureWorkflow,
    get,
    pause,
    resume,

    /** How many clients a filter matches now (the send window is checked as a mailing's would be; it does not narrow the count). */
    preview: async (query: AudienceQuery): Promise<AudiencePreview> => {
      sendWindow(query.send_window);
      return audience.countMatching(normaliseFilter(query.filter));
    },

    async create(input: MailingInput): Promise<Mailing> {
      const mailing = await store.insertMailing(toFields(input));
      logger.info({ mailingId: mailing.id }, 'mailing created');
      try {
        await ensureWorkflow(mailing, await audience.countMatching(mailing.filter));
      } catch (error) {
        logger.warn({ mailingId: mailing.id, err: error }, 'mailing workflow not started yet; the reconciler will start it');
      }
      return mailing;
    },

    list: (page: PageRequest, filter?: store.MailingListFilter): Promise<Page<Mailing>> => store.listMailings(page, filter),

    replace: edit,

    /** A patch is merged into the mailing as it is and saved only if no other edit came between: else merged again. */
    async update(id: number, patch: Partial<MailingInput>): Promise<Mailing> {
      for (let attempt = 1; ; attempt++) {
        const base = await get(id);
        const { id: _, status: __, ...current } = base;
        try {
          return await edit(id, { ...current, ...patch }, base);
        } catch (error) {
          if (!(error instanceof EditOverlapped)) throw error;
          if (attempt === PATCH_ATTEMPTS) throw new ConflictError(`mailing ${id} kept changing while being edited; read it and retry`);
        }
      }
    },

    /**
     * Marks the mailing deleted and answers once nothing can send any more and its unsent messages are
     * cancelled, so that no provider request starts after the answer. A mailing deleted before its
     * start can no longer start (the start is a compare-and-set on a live row), so it is closed at once;
     * a running one once its workflow has stopped its batches. Repeating a delete that answered 503 waits
     * again; a mailing deleted and closed is gone (404).
     */
    async remove(id: number): Promise<void> {
      const deletion = await lifecycle.markDeleted(id);
      if (!deletion || (deletion.wasDeleted && lifecycle.FINAL_STATUSES.includes(deletion.status))) {
        throw new NotFoundError(`mailing ${id} does not exist`);
      }
      if (!deletion.wasDeleted) logger.info({ mailingId: id }, 'mailing deleted');
      if (deletion.status === 'running') return stopSending(id);
      await lifecycle.closeDeleted(id);
      // Only so that its timer does not linger; once woken it would find the mailing deleted anyway.
      await handle(id)
        .cancel()
        .catch((error) => {
          if (!(error instanceof WorkflowNotFoundError)) logger.warn({ mailingId: id, err: error }, 'could not cancel the workflow of a deleted mailing; it ends when it wakes');
        });
    },

    summary: (page: PageRequest, filter?: store.MailingListFilter): Promise<MailingSummaryPage> => readMailingSummary(page, filter),

    async info(id: number, page: PageRequest): Promise<MailingInfo> {
      const read = await readMailingInfo(id, page, { seconds: PROGRESS_RATE_WINDOW_S, most: PROGRESS_RATE_SENDS });
      if (!read) throw new NotFoundError(`mailing ${id} does not exist`);
      const { mailing, counts, times: { recent, ...times }, messages: list } = read;
      // Only a paused mailing may or may not have started: a running one has.
      const started = mailing.status === 'paused' ? read.started : mailing.status === 'running';
      return { mailing, counts, progress: await progress(mailing, counts, recent, started, times.first_sent_at), ...times, messages: list };
    },

    /**
     * Every mailing that is not final has a running workflow: starts those saved while Temporal was
     * unreachable and restarts those whose workflow closed (terminated, failed, timed out). A run
     * looks at every open mailing, a page at a time in id order, unless that takes longer than
     * RECONCILE_BUDGET_MS: then it stops, and this process's next run goes on from there.
     */
    async reconcile(): Promise<number> {
      const deadline = Date.now() + RECONCILE_BUDGET_MS;
      let looked = 0;
      for (;;) {
        const ids = await lifecycle.openMailingIds(reconcilePage, reconciledUpTo);
        reconciledUpTo = ids.length === reconcilePage ? ids[ids.length - 1] : 0;
        const queue = await store.mailingsById(ids);
        const worker = async () => {
          for (let mailing = queue.shift(); mailing !== undefined; mailing = queue.shift()) await ensureWorkflow(mailing);
        };
        await Promise.all(Array.from({ length: RECONCILE_PARALLEL }, worker));
        looked += ids.length;
        if (reconciledUpTo === 0 || Date.now() >= deadline) return looked;
      }
    },
  };
}

export type MailingService = ReturnType<typeof createMailingService>;
