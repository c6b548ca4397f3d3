import { ApplicationFailure } from '@temporalio/common';
import nodemailer from 'nodemailer';

export interface OutgoingEmail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  messageId: string;
}

/** What sends the daily e-mail: SMTP through nodemailer in the worker. */
export interface StatsMailer {
  send(email: OutgoingEmail): Promise<{ rejected: string[] }>;
  close(): void;
}

/** SMTP_URL carries the server and its credentials; bounded timeouts keep a hung server from holding an attempt. */
export function createStatsMailer(smtpUrl: string): StatsMailer {
  const transport = nodemailer.createTransport({ url: smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 60_000 });
  return {
    async send(email) {
      try {
        const info = await transport.sendMail(email);
        return { rejected: (info.rejected ?? []).map(String) };
      } catch (error) {
        throw classifySmtpError(error as SmtpError);
      }
    },
    close: () => transport.close(),
  };
}

type SmtpError = Error & { code?: string; responseCode?: number; permanent?: boolean };

// Wrong credentials or a server that refuses to authenticate: retrying repeats the same answer.
const CONFIGURATION = new Set(['EAUTH', 'ENOAUTH', 'ECONFIG', 'EREQUIRETLS']);

/**
 * Permanent refusals fail the activity for good: bad credentials or configuration, and SMTP 5xx
 * answers (every recipient refused, the message refused). Connection trouble, timeouts and 4xx
 * answers are retried by Temporal.
 */
function classifySmtpError(error: SmtpError): Error {
  const detail = `${error.message}${error.responseCode ? ` (SMTP ${error.responseCode})` : ''}`;
  if (CONFIGURATION.has(error.code ?? '')) {
    return ApplicationFailure.nonRetryable(`the SMTP server refused the configuration: ${detail}; check SMTP_URL`, 'StatsEmailMisconfigured');
  }
  if (error.permanent || (error.responseCode !== undefined && error.responseCode >= 500 && error.responseCode !== 503)) {
    const type = error.code === 'EENVELOPE' ? 'StatsEmailRecipientsRejected' : 'StatsEmailRejected';
    return ApplicationFailure.nonRetryable(`the SMTP server refused the e-mail: ${detail}; check STATS_EMAIL_TO and STATS_EMAIL_FROM`, type);
  }
  return error;
}
