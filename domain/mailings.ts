import { Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { Logger } from '../config/logger';
import * as store from '../storage/mailings';
import type { AudienceFilter, Mailing, MailingFields, MailingStatus } from '../storage/mailings';
import * as messages from '../storage/messages';
import type { Page, PageRequest } from '../storage/page';
import { MAILING_ID, mailingChanged, mailingWorkflow, mailingWorkflowId, SendLimits } from '../workflows/mailing';
import type { components } from '../api/schema';
import { ConflictError, InvalidInputError, NotFoundError, UnavailableError } from './errors';

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

/** Which edits each status allows; finished and expired mailings are history. */
const EDITABLE: MailingStatus[] = ['scheduled', 'running'];

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
  return {
    start_at: new Date(start).toISOString(),
    end_at: new Date(end).toISOString(),
    text: input.text,
    filter: normaliseFilter(input.filter),
  };
}

/** The client side of the mailing workflow: every change to a mailing goes through here. */
export function createMailingService({ temporal, taskQueue, limits, stopWaitMs, logger }: MailingServiceDeps) {
  const handle = (id: number) => temporal.workflow.getHandle(mailingWorkflowId(id));

  /** Idempotent: a workflow that already exists, running or closed, counts as started. */
  async function ensureWorkflow(mailingId: number): Promise<void> {
    try {
      await temporal.workflow.start(mailingWorkflow, {
        taskQueue,
        workflowId: mailingWorkflowId(mailingId),
        args: [{ mailingId, limits }],
        typedSearchAttributes: [{ key: MAILING_ID, value: mailingId }],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
    await store.markWorkflowStarted(mailingId);
  }

  async function get(id: number): Promise<Mailing> {
    const mailing = await store.findMailing(id);
    if (!mailing) throw new NotFoundError(`mailing ${id} does not exist`);
    return mailing;
  }

  async function edit(id: number, input: MailingInput): Promise<Mailing> {
    const current = await get(id);
    if (!EDITABLE.includes(current.status)) {
      throw new ConflictError(`mailing ${id} is ${current.status} and can no longer be edited`, 'status');
    }
    const fields = toFields(input);
    if (current.status === 'running' && Date.parse(fields.start_at) !== Date.parse(current.start_at)) {
      throw new ConflictError(`mailing ${id} is running; its start_at can no longer change`, 'start_at');
    }
    const updated = await store.updateMailing(id, fields, current.status === 'running' ? ['running'] : EDITABLE);
    if (!updated) throw new ConflictError(`mailing ${id} changed status while being edited; read it and retry`, 'status');
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
     * Marks the mailing deleted and its unsent messages cancelled, then cancels the workflow and waits
     * until its batches have stopped, so that no provider request starts after the answer.
     */
    async remove(id: number): Promise<void> {
      const deleted = await store.MailingRow.transaction(async (trx) => {
        if (!(await store.softDeleteMailing(id, trx))) return false;
        await messages.closePending(id, 'cancelled', 'the mailing was deleted', trx);
        return true;
      });
      if (!deleted) throw new NotFoundError(`mailing ${id} does not exist`);
      logger.info({ mailingId: id }, 'mailing deleted');
      try {
        await handle(id).cancel();
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return;
        logger.error({ mailingId: id, err: error }, 'could not cancel the workflow of a deleted mailing');
        throw new UnavailableError(`mailing ${id} was deleted but its workflow could not be cancelled yet`);
      }
      const wait = AbortSignal.timeout(stopWaitMs);
      const stopped = await temporal.withAbortSignal(wait, () => handle(id).result()).then(
        () => true,
        () => !wait.aborted,
      );
      if (!stopped) logger.warn({ mailingId: id }, 'deleted mailing workflow has not stopped yet');
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

    /** Starts the workflows of mailings saved while Temporal was unreachable. */
    async startUnstarted(limit: number): Promise<number> {
      const ids = await store.unstartedMailingIds(limit);
      for (const id of ids) await ensureWorkflow(id);
      return ids.length;
    },
  };
}

export type MailingService = ReturnType<typeof createMailingService>;
