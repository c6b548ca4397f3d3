import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '../config/logger';
import { dayStatistics, type DayStatistics } from '../storage/daily-statistics';
import { sendStatsEmailOnce, type StatsEmail } from '../storage/stats-emails';
import { reportHtml, reportSubject, reportText, type DailyReport } from './daily-report';
import { reportDay } from './report-day';
import type { StatsMailer } from './stats-mailer';

export type { DailyReport };

export interface DailyStatsDeps {
  /** How the e-mail goes out (STATS_EMAIL_FROM as `from`); null when this worker has no SMTP_URL: the send then fails for good, visibly. */
  mail: { mailer: StatsMailer; from: string } | null;
  logger: Logger;
  /** The day's figures; PostgreSQL by default, a fake in workflow tests. */
  statistics?: (from: Date, to: Date) => Promise<DayStatistics>;
  /** At-most-once sending by key; the `stats_emails` table by default. */
  sendOnce?: (email: StatsEmail, send: () => Promise<void>) => Promise<boolean>;
}

export interface DailyReportDelivery {
  messageId: string;
  /** False when an earlier attempt of the same run had already sent it. */
  sentNow: boolean;
}

/** The same run and day always give the same Message-ID, so even a repeat that slips through is recognisable. */
function messageIdFor(key: string, date: string, from: string): string {
  const domain = from.split('@')[1] ?? 'localhost';
  return `<daily-stats.${date}.${createHash('sha256').update(key).digest('hex').slice(0, 24)}@${domain}>`;
}

export function createDailyStatsActivities({ mail, logger, statistics = dayStatistics, sendOnce = sendStatsEmailOnce }: DailyStatsDeps) {
  return {
    /** The statistics of the day before `scheduledAt`'s local date in `timeZone`. */
    async computeDailyStatistics(input: { scheduledAt: string; timeZone: string }): Promise<DailyReport> {
      const day = reportDay(new Date(input.scheduledAt), input.timeZone);
      const figures = await statistics(day.from, day.to);
      return { ...figures, date: day.date, timeZone: day.timeZone, from: day.from.toISOString(), to: day.to.toISOString() };
    },

    /** Sends the report as text and HTML, once per `key` however often the attempt is retried. */
    async sendDailyReport(input: { report: DailyReport; recipients: string[]; key: string }): Promise<DailyReportDelivery> {
      const { report, recipients, key } = input;
      if (!mail) throw ApplicationFailure.nonRetryable('SMTP_URL is not set on this worker', 'StatsEmailMisconfigured');
      const { mailer, from } = mail;
      if (recipients.length === 0) throw ApplicationFailure.nonRetryable('no recipients: set STATS_EMAIL_TO', 'StatsEmailMisconfigured');
      const messageId = messageIdFor(key, report.date, from);
      const sentNow = await sendOnce({ key, day: report.date, messageId, recipients }, async () => {
        const { rejected } = await mailer.send({
          from,
          to: recipients,
          subject: reportSubject(report),
          text: reportText(report),
          html: reportHtml(report),
          messageId,
        });
        if (rejected.length) logger.warn({ rejected, day: report.date }, 'the SMTP server refused some recipients of the daily statistics');
      });
      logger.info({ day: report.date, messageId, sentNow }, sentNow ? 'daily statistics e-mail sent' : 'daily statistics e-mail was already sent');
      return { messageId, sentNow };
    },
  };
}

export type DailyStatsActivities = ReturnType<typeof createDailyStatsActivities>;
