import { Client, WorkflowNotFoundError } from '@temporalio/client';
import type { Logger } from '../config/logger';
import * as lifecycle from '../storage/mailing-lifecycle';
import * as store from '../storage/mailings';
import type { AudienceFilter, Mailing, MailingFields } from '../storage/mailings';
import * as messages from '../storage/messages';
import type { Page, PageRequest } from '../storage/page';
import { MAILING_ID, mailingChanged, mailingWorkflow, mailingWorkflowId, SendLimits } from '../workflows/mailing';
import type { components } from '../api/schema';
import { ConflictError, InvalidInputError, MalformedInputError, NotFoundError, UnavailableError } from './errors';

export type MailingInput = components['schemas']['MailingInput'];
export type MailingSummaryPage = components['schemas']['MailingSummaryPage'];
export type MailingInfo = components['schemas']['MailingInfo'];

export interface MailingServiceDeps {
  temporal: Client;
  taskQueue: string;
  limits: SendLimits;
  /** How long a delete waits for the workflow to stop sending before it answers anyway. */
  stopWaitMs: number;
  logger: Logger;
}

/**
 * The least time a running mailing's new end may lie ahead: batches re-read the end every second, so
 * an edit answered 200 reaches every request not yet started before the new end comes.
 */
export const END_NOTICE_MS = 5_000;
// Mailings the reconciler looks at per run, and how many of their workflows it starts at once.
const RECONCILE_LIMIT = 1_000;
const RECONCILE_PARALLEL = 8;

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

function toFields(input: MailingInput): MailingFields {
  const start = Date.parse(input.start_at);
  const end = Date.parse(input.end_at);
  if (end <= start) throw new InvalidInputError('end_at must be after start_at', 'end_at');
  if (end <= Date.now()) throw new InvalidInputError('end_at has already passed', 'end_at');
  const window = input.send_window ?? null;
  if (window && window.from === window.to) throw new MalformedInputError('send_window.from and send_window.to must differ', 'send_window');
  return {
    start_at: new Date(start).toISOString(),
    end_at: new Date(end).toISOString(),
    text: input.text,
    filter: normaliseFilter(input.filter),
    send_window: window,
  };
}

/** The client side of the mailing workflow: every change to a mailing goes through here. */
export function createMailingService({ temporal, taskQueue, limits, stopWaitMs, logger }: MailingServiceDeps) {
  const handle = (id: number) => temporal.workflow.getHandle(mailingWorkflowId(id));

  /**
   * Idempotent: a running workflow is kept; a closed one (terminated, failed, timed out, or ended while
   * its mailing was not final) is followed by a new run, which picks up from the mailing's state.
   */
  async function ensureWorkflow(mailingId: number): Promise<void> {
    await temporal.workflow.start(mailingWorkflow, {
      taskQueue,
      workflowId: mailingWorkflowId(mailingId),
      args: [{ mailingId, limits }],
      typedSearchAttributes: [{ key: MAILING_ID, value: mailingId }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
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
    const stopped = await temporal.withAbortSignal(wait, () => handle(id).result()).then(
      () => true,
      () => !wait.aborted,
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

  async function edit(id: number, input: MailingInput): Promise<Mailing> {
    const current = await get(id);
    if (!lifecycle.EDITABLE_STATUSES.includes(current.status)) {
      throw new ConflictError(`mailing ${id} is ${current.status} and can no longer be edited`, 'status');
    }
    const fields = toFields(input);
    if (current.status === 'running') {
      if (Date.parse(fields.start_at) !== Date.parse(current.start_at)) {
        throw new ConflictError(`mailing ${id} is running; its start_at can no longer change`, 'start_at');
      }
      if (Date.parse(fields.end_at) !== Date.parse(current.end_at) && Date.parse(fields.end_at) < Date.now() + END_NOTICE_MS) {
        throw new InvalidInputError(`a running mailing's end_at must be at least ${END_NOTICE_MS / 1000} s from now`, 'end_at');
      }
    }
    // Saved only in the status read above: an edit that races the start is refused, never ignored.
    const updated = await lifecycle.applyEdit(id, fields, current.status);
    if (!updated) {
      const now = await store.findMailing(id);
      if (now?.status === 'running' && Date.parse(fields.start_at) !== Date.parse(now.start_at)) {
        throw new ConflictError(`mailing ${id} started while being edited; its start_at can no longer change`, 'start_at');
      }
      throw new ConflictError(`mailing ${id} changed status while being edited; read it and retry`, 'status');
    }
    try {
      await handle(id).signal(mailingChanged);
    } catch (error) {
      // Not started yet: it will read the new fields when the reconciler starts it.
      if (!(error instanceof WorkflowNotFoundError)) {
        logger.error({ mailingId: id, err: error }, 'saved a mailing edit but could not tell its workflow');
        throw new UnavailableError(`mailing ${id} was saved but its workflow could not be told; repeat the request`);
      }
    }
    logger.info({ mailingId: id }, 'mailing edited');
    return updated;
  }

  return {
    ensureWorkflow,
    get,

    async create(input: MailingInput): Promise<Mailing> {
      const mailing = await store.insertMailing(toFields(input));
      logger.info({ mailingId: mailing.id }, 'mailing created');
      try {
        await ensureWorkflow(mailing.id);
      } catch (error) {
        logger.warn({ mailingId: mailing.id, err: error }, 'mailing workflow not started yet; the reconciler will start it');
      }
      return mailing;
    },

    list: (page: PageRequest): Promise<Page<Mailing>> => store.listMailings(page),

    replace: edit,

    async update(id: number, patch: Partial<MailingInput>): Promise<Mailing> {
      const { id: _, status: __, ...current } = await get(id);
      return edit(id, { ...current, ...patch });
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

    async summary(page: PageRequest): Promise<MailingSummaryPage> {
      const mailings = await store.listMailings(page);
      const [counts, totals] = await Promise.all([messages.countsByMailing(mailings.items.map((m) => m.id)), messages.totalCounts()]);
      return {
        items: mailings.items.map((mailing) => ({ mailing, counts: counts.get(mailing.id)! })),
        next_cursor: mailings.next_cursor,
        totals,
      };
    },

    async info(id: number, page: PageRequest): Promise<MailingInfo> {
      const mailing = await get(id);
      const [counts, times, list] = await Promise.all([
        messages.countsByMailing([id]),
        messages.sendTimes(id),
        messages.listMessages({ mailing_id: id }, page),
      ]);
      return { mailing, counts: counts.get(id)!, ...times, messages: list };
    },

    /**
     * Every mailing that is not final has a running workflow: starts those saved while Temporal was
     * unreachable and restarts those whose workflow closed (terminated, failed, timed out).
     */
    async reconcile(): Promise<number> {
      const ids = await lifecycle.openMailingIds(RECONCILE_LIMIT);
      const queue = [...ids];
      const worker = async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) await ensureWorkflow(id);
      };
      await Promise.all(Array.from({ length: RECONCILE_PARALLEL }, worker));
      return ids.length;
    },
  };
}

export type MailingService = ReturnType<typeof createMailingService>;
