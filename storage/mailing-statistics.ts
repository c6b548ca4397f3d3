import { MailingRow, mailingPage, mailingWithStart, toMailing, type Mailing, type MailingListFilter, type MailingRecord } from './mailings';
import { sendTimesQuery, statusCountsJson, toSendTimes, toStatusCounts, totalCountsJson, type SendTimes, type StatusCounts } from './mailing-counts';
import { messagePage, toMessage, type Message } from './messages';
import { toPage, type Page, type PageRequest } from './page';

/*
 * The statistics reads, each in one statement. As separate statements, each paid its own round trip in
 * the API process and its own plan in PostgreSQL (a statement over `messages` takes 0.2-0.8 ms to plan:
 * the planner weighs each of the table's indexes). Query builders come in parentheses; raw ones do not.
 */

const knex = () => MailingRow.knex();
const sqlOrder = (page: PageRequest) => (page.order === 'desc' ? 'DESC' : 'ASC');

export interface MailingInfoRead {
  mailing: Mailing;
  /** Its start was claimed, even if it is paused now. */
  started: boolean;
  counts: StatusCounts;
  times: SendTimes;
  messages: Page<Message>;
}

/**
 * What a mailing's info shows: the mailing, its counters, its send times and a page of its messages.
 * Undefined when there is no such mailing (or it was deleted).
 */
export async function readMailingInfo(id: number, page: PageRequest, recent: { seconds: number; most: number }): Promise<MailingInfoRead | undefined> {
  const { rows } = await knex().raw(
    `SELECT m.*, t.*, ? AS counts, (SELECT coalesce(json_agg(p ORDER BY p.id ${sqlOrder(page)}), '[]') FROM ? p) AS messages
     FROM ? m CROSS JOIN LATERAL (?) t`,
    [statusCountsJson('m.id'), messagePage({ mailing_id: id }, page), mailingWithStart(id), sendTimesQuery(id, recent.seconds, recent.most)],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    mailing: toMailing(row as MailingRecord),
    started: row.started,
    counts: toStatusCounts(row.counts),
    times: toSendTimes(row),
    messages: toPage((row.messages as Record<string, unknown>[]).map(toMessage), page.limit),
  };
}

export interface MailingSummaryRead {
  items: { mailing: Mailing; counts: StatusCounts }[];
  next_cursor: string | null;
  /** Over every mailing that is not deleted. */
  totals: StatusCounts;
}

/**
 * A page of mailings, each with its counters, and the totals over all of them. The page's ids go into
 * the counters' grouping key as one array, so the shards of those mailings are read by primary key
 * at once (as a subquery per mailing, the counters took more of PostgreSQL than three statements).
 */
export async function readMailingSummary(page: PageRequest, filter: MailingListFilter = {}): Promise<MailingSummaryRead> {
  const { rows } = await knex().raw(
    `WITH page AS MATERIALIZED ?,
     counted AS (
       SELECT k.mailing_id, json_object_agg(k.status, k.count) AS counts FROM mailing_counts k
       WHERE k.mailing_id = ANY(ARRAY(SELECT id FROM page)) GROUP BY k.mailing_id)
     SELECT (SELECT coalesce(json_agg(x ORDER BY x.id ${sqlOrder(page)}), '[]') FROM (
               SELECT page.*, counted.counts FROM page LEFT JOIN counted ON counted.mailing_id = page.id) x) AS mailings,
            ? AS totals`,
    [mailingPage(page, filter), totalCountsJson()],
  );
  const listed = toPage(
    (rows[0].mailings as (MailingRecord & { counts: Partial<StatusCounts> | null })[]).map((row) => ({ ...toMailing(row), counts: toStatusCounts(row.counts ?? {}) })),
    page.limit,
  );
  return { items: listed.items.map(({ counts, ...mailing }) => ({ mailing, counts })), next_cursor: listed.next_cursor, totals: toStatusCounts(rows[0].totals) };
}
