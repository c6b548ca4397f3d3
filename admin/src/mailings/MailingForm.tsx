import { Alert, Box, Typography } from '@mui/material';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useWatch } from 'react-hook-form';
import { Create, DateTimeInput, Edit, required, SimpleForm, TextArrayInput, TextInput, useDataProvider } from 'react-admin';
import type { MailingFilter } from '../api-types';
import type { AppDataProvider } from '../dataProvider';
import { LOCAL_ZONE } from '../format';

interface MailingFormValues {
  text: string;
  start_at: string;
  end_at: string;
  filter?: { tag?: string[] | null; mobile_operator_code?: string[] | null };
  send_window?: { from?: string | null; to?: string | null } | null;
}

/** The datetime-local inputs hold the operator's wall-clock time; the API takes instants. */
const toInstant = (value: string) => (/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(value) ? new Date(value).toISOString() : value);

/** Empty filter lists mean "any": the key is left out. */
function toFilter(filter: MailingFormValues['filter']): MailingFilter {
  const result: MailingFilter = {};
  if (filter?.tag?.length) result.tag = filter.tag;
  if (filter?.mobile_operator_code?.length) result.mobile_operator_code = filter.mobile_operator_code;
  return result;
}

/** Both times empty: any time of day. One of them only: sent as is, and the API names the missing one. */
function toSendWindow(window: MailingFormValues['send_window']) {
  const from = window?.from || undefined;
  const to = window?.to || undefined;
  return from || to ? ({ from, to } as { from: string; to: string }) : null;
}

const toMailingInput = (values: MailingFormValues) => ({
  ...values,
  start_at: toInstant(values.start_at),
  end_at: toInstant(values.end_at),
  filter: toFilter(values.filter),
  send_window: toSendWindow(values.send_window),
});

/** How many clients the filter being edited reaches now, asked again as it changes. */
function AudiencePreview() {
  const dataProvider = useDataProvider<AppDataProvider>();
  const filter = toFilter(useWatch<MailingFormValues, 'filter'>({ name: 'filter' }));
  const key = JSON.stringify(filter);
  const [debounced, setDebounced] = useState(key);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(key), 300);
    return () => clearTimeout(timer);
  }, [key]);
  const { data, error } = useQuery({ queryKey: ['audience-preview', debounced], queryFn: () => dataProvider.preview(JSON.parse(debounced)) });
  if (error) return <Alert severity="warning">The audience cannot be counted: {error.message}</Alert>;
  return (
    <Alert severity="info" data-testid="audience-preview">
      {data ? `${data.estimated ? 'About ' : ''}${data.clients.toLocaleString()} ${data.clients === 1 ? 'client matches' : 'clients match'} this filter now.` : 'Counting the audience…'}
    </Alert>
  );
}

function MailingFields() {
  return (
    <>
      <TextInput source="text" label="Message text" multiline minRows={3} fullWidth validate={required()} />
      <Typography variant="subtitle1">When</Typography>
      <Box sx={{ display: 'flex', gap: 2, flexWrap: 'wrap' }}>
        <DateTimeInput source="start_at" label="Start" helperText={`Your local time (${LOCAL_ZONE})`} validate={required()} />
        <DateTimeInput source="end_at" label="End" helperText={`Your local time (${LOCAL_ZONE}); nothing is sent after it`} validate={required()} />
      </Box>
      <Typography variant="subtitle1">Send window (optional)</Typography>
      <Box sx={{ display: 'flex', gap: 2, flexWrap: 'wrap' }}>
        <TextInput source="send_window.from" label="Not before" type="time" helperText="Each client's own local time" slotProps={{ inputLabel: { shrink: true } }} />
        <TextInput source="send_window.to" label="Not after" type="time" helperText="Leave both empty to send at any time" slotProps={{ inputLabel: { shrink: true } }} />
      </Box>
      <Typography variant="subtitle1">Audience</Typography>
      <Typography variant="body2" color="text.secondary">
        A client must match one of the tags and one of the operator codes given; leave a list empty to match any. Type a value and press Enter.
      </Typography>
      <Box sx={{ display: 'flex', gap: 2, flexWrap: 'wrap', width: '100%' }}>
        <TextArrayInput source="filter.tag" label="Client tags" sx={{ minWidth: 300 }} />
        <TextArrayInput source="filter.mobile_operator_code" label="Operator codes (3 digits)" sx={{ minWidth: 300 }} />
      </Box>
      <AudiencePreview />
    </>
  );
}

const localInput = (date: Date) => new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

export const MailingCreate = () => {
  const now = new Date();
  const defaults = { start_at: localInput(now), end_at: localInput(new Date(now.getTime() + 24 * 3600_000)), filter: {}, send_window: null };
  return (
    <Create title="New mailing" redirect="show" transform={toMailingInput}>
      <SimpleForm defaultValues={defaults}>
        <MailingFields />
      </SimpleForm>
    </Create>
  );
};

/** Pessimistic: the API decides what may change (a running mailing keeps its start), and says so per field. */
export const MailingEdit = () => (
  <Edit title="Edit mailing" mutationMode="pessimistic" redirect="show" transform={toMailingInput}>
    <SimpleForm>
      <MailingFields />
    </SimpleForm>
  </Edit>
);
