import { Chip, Tooltip } from '@mui/material';
import type { FC } from 'react';
import { useRecordContext } from 'react-admin';
import type { Mailing, MailingFilter } from './api-types';

/** The operator's own zone, as the browser knows it (e.g. Europe/Moscow); every time shown is in it. */
export const LOCAL_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;

// dateStyle/timeStyle cannot be combined with timeZoneName: the parts are spelled out.
const instantFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  timeZoneName: 'short',
});

/** An instant in the operator's local time, its zone named: "1 Dec 2026, 21:30:00 GMT+3". */
export const formatInstant = (iso: string | null | undefined) => (iso ? instantFormat.format(new Date(iso)) : '—');

/** A record's instant field in local time; the exact UTC instant on hover. */
export function InstantField({ source, empty = '—' }: { source: string; label?: string; empty?: string }) {
  const record = useRecordContext();
  const value = record?.[source] as string | null | undefined;
  if (!value) return <span>{empty}</span>;
  return (
    <Tooltip title={`${new Date(value).toISOString()} (UTC)`}>
      <span>{formatInstant(value)}</span>
    </Tooltip>
  );
}

const asList = (value: string | string[] | undefined) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** "tag vip or new, operator 916": who a filter reaches, in words. */
export function describeFilter(filter: MailingFilter | undefined): string {
  const parts = [];
  const tags = asList(filter?.tag);
  const codes = asList(filter?.mobile_operator_code);
  if (tags.length) parts.push(`tag ${tags.join(' or ')}`);
  if (codes.length) parts.push(`operator code ${codes.join(' or ')}`);
  return parts.length ? parts.join(', and ') : 'every client';
}

export function describeWindow(window: Mailing['send_window']): string {
  return window ? `${window.from}–${window.to} in each client's time zone` : 'any time of day';
}

const STATUS_COLOURS: Record<string, 'default' | 'primary' | 'success' | 'warning' | 'error' | 'info'> = {
  scheduled: 'info',
  running: 'primary',
  paused: 'warning',
  finished: 'success',
  expired: 'error',
  pending: 'default',
  sent: 'success',
  failed: 'error',
  cancelled: 'default',
};

export function StatusChip({ status }: { status: string }) {
  return <Chip size="small" label={status} color={STATUS_COLOURS[status] ?? 'default'} data-status={status} />;
}

/** The record's `status` as a coloured chip; `label` is the column's header. */
export const StatusField: FC<{ label?: string }> = () => {
  const record = useRecordContext();
  return record ? <StatusChip status={record.status as string} /> : null;
};
