import { Client, ScheduleAlreadyRunning, ScheduleDescription, ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Logger } from '../config/logger';
import { DAILY_STATS_SCHEDULE_ID, dailyStatsWorkflow, type DailyStatsInput } from '../workflows/daily-stats';

export interface DailyStatsScheduleSettings extends DailyStatsInput {
  hour: number;
  minute: number;
}

const options = (settings: DailyStatsScheduleSettings, taskQueue: string) => ({
  spec: { calendars: [{ hour: settings.hour, minute: settings.minute, comment: 'STATS_EMAIL_AT' }], timezone: settings.timeZone },
  action: {
    type: 'startWorkflow' as const,
    workflowType: dailyStatsWorkflow,
    taskQueue,
    // Temporal appends the scheduled time, so each day's run has an id of its own.
    workflowId: DAILY_STATS_SCHEDULE_ID,
    args: [{ timeZone: settings.timeZone, recipients: settings.recipients }] as [DailyStatsInput],
  },
  policies: {
    // Each run reports its own day, so runs never get in each other's way: one stuck retrying an SMTP
    // server that is down does not hold back the next day's, and `schedule trigger` always runs.
    overlap: ScheduleOverlapPolicy.ALLOW_ALL,
    // After a Temporal outage the missed days of the last week are still reported, each its own day.
    catchupWindow: '7 days' as const,
  },
});

/** The note of a pause made for want of recipients; a pause with any other note is an operator's and stays. */
const PAUSED_UNCONFIGURED = 'STATS_EMAIL_TO is not set';
const pausedUnconfigured = (description: ScheduleDescription) => description.state.paused && description.state.note === PAUSED_UNCONFIGURED;

/** True when the schedule as it stands already says what the configuration says. */
function matches(description: ScheduleDescription, settings: DailyStatsScheduleSettings, taskQueue: string): boolean {
  const calendars = description.spec.calendars ?? [];
  const [calendar] = calendars;
  const args = description.action.args as unknown[];
  return (
    !pausedUnconfigured(description) &&
    calendars.length === 1 &&
    calendar.hour.length === 1 &&
    calendar.hour[0].start === settings.hour &&
    calendar.hour[0].end === settings.hour &&
    calendar.minute.length === 1 &&
    calendar.minute[0].start === settings.minute &&
    calendar.minute[0].end === settings.minute &&
    (description.spec.timezone ?? 'UTC') === settings.timeZone &&
    description.action.taskQueue === taskQueue &&
    description.policies.overlap === ScheduleOverlapPolicy.ALLOW_ALL &&
    JSON.stringify(args) === JSON.stringify([{ timeZone: settings.timeZone, recipients: settings.recipients }])
  );
}

/**
 * Makes the `daily-stats` schedule say what the configuration says, whichever worker starts first:
 * created when missing, updated when its time, zone or recipients differ, paused (not deleted, so its
 * run history stays) when STATS_EMAIL_TO is unset and resumed when it is set again. A pause made by
 * an operator (`temporal schedule toggle --pause`) is left as it is. Answers what it did.
 */
export async function ensureDailyStatsSchedule(
  client: Client,
  taskQueue: string,
  settings: DailyStatsScheduleSettings,
  logger: Logger,
): Promise<'created' | 'updated' | 'unchanged' | 'paused' | 'absent'> {
  const handle = client.schedule.getHandle(DAILY_STATS_SCHEDULE_ID);
  if (settings.recipients.length === 0) {
    try {
      const description = await handle.describe();
      if (description.state.paused) return 'paused';
      await handle.pause(PAUSED_UNCONFIGURED);
      logger.info({ scheduleId: DAILY_STATS_SCHEDULE_ID }, 'daily statistics e-mail paused: STATS_EMAIL_TO is not set');
      return 'paused';
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) return 'absent';
      throw error;
    }
  }
  const wanted = options(settings, taskQueue);
  try {
    await client.schedule.create({ scheduleId: DAILY_STATS_SCHEDULE_ID, ...wanted });
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  if (matches(await handle.describe(), settings, taskQueue)) return 'unchanged';
  await handle.update((current) => ({
    ...wanted,
    state: pausedUnconfigured(current) ? { paused: false, note: 'recipients configured' } : { paused: current.state.paused, note: current.state.note },
  }));
  logger.info({ scheduleId: DAILY_STATS_SCHEDULE_ID }, 'daily statistics schedule updated to the configuration');
  return 'updated';
}
