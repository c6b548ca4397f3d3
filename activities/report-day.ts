import { ApplicationFailure } from '@temporalio/common';
import { DateTime } from 'luxon';

export interface ReportDay {
  /** The local calendar date reported, `YYYY-MM-DD`. */
  date: string;
  timeZone: string;
  /** The day's first instant and the next day's first instant, in the zone: 23 or 25 hours apart on DST days. */
  from: Date;
  to: Date;
}

/**
 * The day before the local date of `scheduledAt` in `timeZone`: [00:00, 24:00) local. luxon's
 * calendar arithmetic gives DST days their 23 or 25 hours, and a day whose midnight does not exist
 * (clocks jumping at 00:00) starts at its first instant.
 */
export function reportDay(scheduledAt: Date, timeZone: string): ReportDay {
  const scheduled = DateTime.fromJSDate(scheduledAt, { zone: timeZone });
  if (!scheduled.isValid) throw ApplicationFailure.nonRetryable(`unknown time zone ${timeZone}`, 'StatsEmailMisconfigured');
  const to = scheduled.startOf('day');
  const from = to.minus({ days: 1 }).startOf('day');
  return { date: from.toISODate()!, timeZone, from: from.toJSDate(), to: to.toJSDate() };
}
