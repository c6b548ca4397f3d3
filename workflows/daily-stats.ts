import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { DailyStatsActivities } from '../activities/daily-stats';

export const DAILY_STATS_SCHEDULE_ID = 'daily-stats';

/** Set by Temporal on every run a schedule starts: when the run was due, however late it actually starts. */
export const SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

export interface DailyStatsInput {
  /** IANA zone whose calendar days are reported (STATS_EMAIL_TZ). */
  timeZone: string;
  /** STATS_EMAIL_TO. */
  recipients: string[];
}

export interface DailyStatsResult {
  /** The local date reported, `YYYY-MM-DD`. */
  date: string;
  messageId: string;
  sentNow: boolean;
}

const { computeDailyStatistics } = proxyActivities<DailyStatsActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', maximumInterval: '5 minutes' },
});

// An SMTP server may be down for a while: keep trying (at most every 10 minutes); refusals that no retry fixes are non-retryable.
const { sendDailyReport } = proxyActivities<DailyStatsActivities>({
  startToCloseTimeout: '3 minutes',
  retry: { initialInterval: '10 seconds', maximumInterval: '10 minutes' },
});

/**
 * Started by the `daily-stats` schedule: e-mails the statistics of the day before the scheduled time's
 * local date. The day comes from the time the schedule was due, not from when the run happens, so a
 * run caught up after downtime still reports its own day; a run started by hand (no schedule) reports
 * the day before its start.
 */
export async function dailyStatsWorkflow(input: DailyStatsInput): Promise<DailyStatsResult> {
  const info = workflowInfo();
  const scheduledAt = info.typedSearchAttributes.get(SCHEDULED_START_TIME) ?? info.startTime;
  const report = await computeDailyStatistics({ scheduledAt: scheduledAt.toISOString(), timeZone: input.timeZone });
  const delivery = await sendDailyReport({ report, recipients: input.recipients, key: `${info.workflowId}/${report.date}` });
  return { date: report.date, ...delivery };
}
