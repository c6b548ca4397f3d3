import { CursorPagination } from '../CursorPagination';
import PauseIcon from '@mui/icons-material/Pause';
import PlayArrowIcon from '@mui/icons-material/PlayArrow';
import { Box, Card, CardContent, Grid, LinearProgress, Typography } from '@mui/material';
import { useMutation, useQuery } from '@tanstack/react-query';
import {
  Button,
  DeleteButton,
  EditButton,
  FunctionField,
  List,
  Show,
  SimpleShowLayout,
  TextField,
  TopToolbar,
  useCanAccess,
  useDataProvider,
  useNotify,
  useRecordContext,
  useRefresh,
} from 'react-admin';
import type { ReactNode } from 'react';
import type { Mailing, MailingInfo, StatusCounts } from '../api-types';
import type { AppDataProvider } from '../dataProvider';
import { describeFilter, describeWindow, formatInstant, InstantField, StatusField } from '../format';
import { MessageColumns } from '../messages/MessageList';

/** A mailing whose numbers may still change is read again every LIVE_MS. */
export const LIVE_MS = 2000;
const isLive = (status: Mailing['status'] | undefined) => status === 'running' || status === 'scheduled' || status === 'paused';
const editable = (status: Mailing['status']) => status !== 'finished' && status !== 'expired';

function PauseResumeButton() {
  const mailing = useRecordContext<Mailing>();
  const dataProvider = useDataProvider<AppDataProvider>();
  const notify = useNotify();
  const refresh = useRefresh();
  const { canAccess } = useCanAccess({ action: 'edit', resource: 'mailings' });
  const toggle = useMutation({
    mutationFn: (m: Mailing) => (m.status === 'paused' ? dataProvider.resume(m.id) : dataProvider.pause(m.id)),
    onSuccess: (m) => {
      notify(m.status === 'paused' ? 'Paused: nothing more is sent until resumed' : `Resumed: ${m.status}`, { type: 'info' });
      refresh();
    },
    onError: (error) => notify(error.message, { type: 'error' }),
  });
  if (!mailing || !canAccess || !editable(mailing.status)) return null;
  const paused = mailing.status === 'paused';
  return (
    <Button label={paused ? 'Resume' : 'Pause'} onClick={() => toggle.mutate(mailing)} disabled={toggle.isPending}>
      {paused ? <PlayArrowIcon /> : <PauseIcon />}
    </Button>
  );
}

function Actions() {
  const mailing = useRecordContext<Mailing>();
  return (
    <TopToolbar>
      {mailing && editable(mailing.status) && <EditButton />}
      <PauseResumeButton />
      <DeleteButton
        mutationMode="pessimistic"
        confirmTitle="Delete this mailing?"
        confirmContent="Sending stops and unsent messages are cancelled. Messages already sent stay listed."
      />
    </TopToolbar>
  );
}

const COUNT_LABELS: [keyof StatusCounts, string][] = [
  ['sent', 'Sent'],
  ['pending', 'Waiting'],
  ['failed', 'Failed'],
  ['expired', 'Expired'],
  ['cancelled', 'Cancelled'],
];

export function Counts({ counts }: { counts: StatusCounts }) {
  return (
    <Box sx={{ display: 'flex', gap: 3, flexWrap: 'wrap' }}>
      {COUNT_LABELS.map(([key, label]) => (
        <Box key={key} data-testid={`count-${key}`}>
          <Typography variant="h5">{counts[key].toLocaleString()}</Typography>
          <Typography variant="body2" color="text.secondary">
            {label}
          </Typography>
        </Box>
      ))}
    </Box>
  );
}

/** Messages handled (sent, failed, expired or cancelled) out of those recorded. */
export function handledShare(counts: StatusCounts): { handled: number; total: number } {
  const total = counts.pending + counts.sent + counts.failed + counts.expired + counts.cancelled;
  return { handled: total - counts.pending, total };
}

function Stat({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <Typography variant="caption" color="text.secondary">
        {label}
      </Typography>
      <Typography variant="body1">{children}</Typography>
    </>
  );
}

function Statistics() {
  const mailing = useRecordContext<Mailing>();
  const dataProvider = useDataProvider<AppDataProvider>();
  const { data: info } = useQuery<MailingInfo>({
    queryKey: ['mailing-info', mailing?.id],
    queryFn: () => dataProvider.mailingInfo(mailing!.id),
    enabled: mailing !== undefined,
    refetchInterval: (query) => (isLive(query.state.data?.mailing.status ?? mailing?.status) ? LIVE_MS : false),
  });
  if (!info) return <LinearProgress />;
  const { handled, total } = handledShare(info.counts);
  const { progress } = info;
  return (
    <Card variant="outlined" sx={{ mt: 2 }}>
      <CardContent>
        <Typography variant="h6" gutterBottom>
          Statistics {isLive(info.mailing.status) && <Typography component="span" variant="caption">(updated every {LIVE_MS / 1000} s)</Typography>}
        </Typography>
        <Counts counts={info.counts} />
        <Box sx={{ my: 2 }}>
          <LinearProgress variant="determinate" value={total ? (100 * handled) / total : 0} />
          <Typography variant="body2" data-testid="progress">
            {handled.toLocaleString()} of {total.toLocaleString()} messages handled; audience {progress.audience_estimated ? 'about ' : ''}
            {progress.audience.toLocaleString()} client{progress.audience === 1 ? '' : 's'}
          </Typography>
        </Box>
        <Grid container spacing={2}>
          <Grid size={{ xs: 12, sm: 6, md: 3 }}>
            <Stat label="Send rate (recent)">{progress.rate_per_second.toFixed(1)} messages/s</Stat>
          </Grid>
          <Grid size={{ xs: 12, sm: 6, md: 3 }}>
            <Stat label="Estimated finish">{formatInstant(progress.estimated_finish_at)}</Stat>
          </Grid>
          <Grid size={{ xs: 12, sm: 6, md: 3 }}>
            <Stat label="First sent">{formatInstant(info.first_sent_at)}</Stat>
          </Grid>
          <Grid size={{ xs: 12, sm: 6, md: 3 }}>
            <Stat label="Last sent">{formatInstant(info.last_sent_at)}</Stat>
          </Grid>
        </Grid>
      </CardContent>
    </Card>
  );
}

function MailingMessages() {
  const mailing = useRecordContext<Mailing>();
  if (!mailing) return null;
  return (
    <Box sx={{ mt: 2 }}>
      <Typography variant="h6">Messages</Typography>
      <List
        resource="messages"
        filter={{ mailing_id: mailing.id }}
        sort={{ field: 'id', order: 'DESC' }}
        perPage={25} pagination={<CursorPagination />}
        disableSyncWithLocation
        storeKey={false}
        actions={false}
        title={false}
        queryOptions={{ refetchInterval: isLive(mailing.status) ? LIVE_MS : false }}
        empty={<Typography variant="body2">No messages recorded yet: they are recorded when the mailing starts.</Typography>}
      >
        <MessageColumns showMailing={false} />
      </List>
    </Box>
  );
}

function MailingTitle() {
  const mailing = useRecordContext<Mailing>();
  return <span>{mailing ? `Mailing #${mailing.id}` : 'Mailing'}</span>;
}

export const MailingShow = () => (
  <Show actions={<Actions />} title={<MailingTitle />} queryOptions={{ refetchInterval: (query) => (isLive((query.state.data as Mailing | undefined)?.status) ? LIVE_MS : false) }}>
    <SimpleShowLayout>
      <StatusField label="Status" />
      <TextField source="text" label="Message text" />
      <InstantField source="start_at" label="Starts" />
      <InstantField source="end_at" label="Ends" />
      <FunctionField<Mailing> label="Audience" render={(m) => describeFilter(m.filter)} />
      <FunctionField<Mailing> label="Send window" render={(m) => describeWindow(m.send_window)} />
    </SimpleShowLayout>
    <Box sx={{ px: 2, pb: 2 }}>
      <Statistics />
      <MailingMessages />
    </Box>
  </Show>
);
