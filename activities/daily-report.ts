import type { DayStatistics, SettledCounts } from '../storage/daily-statistics';

/** A day's statistics with the day they are of: what the e-mail reports. */
export interface DailyReport extends DayStatistics {
  date: string;
  timeZone: string;
  /** ISO instants: the report crosses the workflow's history as JSON. */
  from: string;
  to: string;
}

const STATUSES: (keyof SettledCounts)[] = ['sent', 'failed', 'expired', 'cancelled'];
const counts = (c: SettledCounts) => STATUSES.map((s) => `${s} ${c[s]}`).join(', ');
const more = (shown: number, total: number) => (total > shown ? total - shown : 0);

export function reportSubject(report: DailyReport): string {
  return `Mailing statistics for ${report.date} (${report.timeZone}): ${report.settled.sent} sent, ${report.settled.failed} failed`;
}

export function reportText(report: DailyReport): string {
  const lines = [
    `Mailing statistics for ${report.date}, 00:00-24:00 ${report.timeZone} (${report.from} to ${report.to})`,
    '',
    `Mailings run: ${report.mailingsRun}`,
    `Messages: ${counts(report.settled)}`,
    `Still pending now: ${report.pendingNow}`,
    '',
    'Per mailing:',
    ...(report.mailings.length ? report.mailings.map((m) => `  #${m.id} ${JSON.stringify(m.text)} (${m.status}): ${counts(m)}, pending now ${m.pendingNow}`) : ['  none']),
  ];
  const hidden = more(report.mailings.length, report.mailingsRun);
  if (hidden) lines.push(`  … and ${hidden} more mailings`);
  lines.push('', 'Failures by reason:', ...(report.failures.length ? report.failures.map((f) => `  ${f.count}  ${f.reason}`) : ['  none']), '');
  return lines.join('\n');
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const cells = (values: (string | number)[], tag = 'td') => `<tr>${values.map((v) => `<${tag}>${escape(String(v))}</${tag}>`).join('')}</tr>`;

/** The same report as a page; mailing texts and provider reasons are escaped (they are not ours). */
export function reportHtml(report: DailyReport): string {
  const hidden = more(report.mailings.length, report.mailingsRun);
  const mailingRows = report.mailings.map((m) => cells([`#${m.id}`, m.text, m.status, ...STATUSES.map((s) => m[s]), m.pendingNow]));
  return [
    '<!doctype html><html><head><meta charset="utf-8"><title>' + escape(reportSubject(report)) + '</title></head><body>',
    `<h1>Mailing statistics for ${escape(report.date)}</h1>`,
    `<p>00:00–24:00 ${escape(report.timeZone)} (${escape(report.from)} to ${escape(report.to)})</p>`,
    '<table>',
    cells(['Mailings run', report.mailingsRun]),
    ...STATUSES.map((s) => cells([`Messages ${s}`, report.settled[s]])),
    cells(['Still pending now', report.pendingNow]),
    '</table>',
    '<h2>Per mailing</h2>',
    '<table>',
    cells(['Mailing', 'Text', 'Status', ...STATUSES, 'Pending now'], 'th'),
    ...mailingRows,
    '</table>',
    hidden ? `<p>… and ${hidden} more mailings</p>` : '',
    '<h2>Failures by reason</h2>',
    '<table>',
    cells(['Count', 'Reason'], 'th'),
    ...report.failures.map((f) => cells([f.count, f.reason])),
    '</table>',
    '</body></html>',
  ].join('\n');
}
