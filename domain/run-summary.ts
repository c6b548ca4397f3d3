import type { AudienceFilter, Mailing } from '../storage/mailings';

/**
 * How a mailing's workflow run introduces itself in the Temporal Web UI and CLI: a one-line static
 * summary and static details (Temporal's markdown), fixed when the run starts. What changes as it
 * runs is in the run's current details and its `progress` query (workflows/progress.ts).
 */

const EXCERPT_CHARS = 40;

const excerpt = (text: string, chars: number) => (text.length <= chars ? text : `${text.slice(0, chars - 1)}…`);

function describeFilter(filter: AudienceFilter): string {
  const parts = [filter.tag && `tag ${filter.tag.join(' or ')}`, filter.mobile_operator_code && `operator ${filter.mobile_operator_code.join(' or ')}`].filter(Boolean);
  return parts.length ? parts.join(', ') : 'every client';
}

export interface AudienceSize {
  clients: number;
  estimated: boolean;
}

export function runSummary(mailing: Mailing): string {
  return `mailing ${mailing.id}: "${excerpt(mailing.text, EXCERPT_CHARS)}" to ${describeFilter(mailing.filter)}`;
}

export function runDetails(mailing: Mailing, audience?: AudienceSize): string {
  const window = mailing.send_window ? `, between ${mailing.send_window.from} and ${mailing.send_window.to} in each client's zone` : '';
  const lines = [
    `**Mailing ${mailing.id}**`,
    `Text: ${excerpt(mailing.text, 200)}`,
    `Filter: ${describeFilter(mailing.filter)}`,
    `Sends from ${mailing.start_at} until ${mailing.end_at}${window}`,
  ];
  if (audience) lines.push(`Audience when the run started: ${audience.estimated ? 'about ' : ''}${audience.clients} clients`);
  return lines.join('\n\n');
}
