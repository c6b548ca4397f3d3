import { Box, Card, CardContent, CardHeader, LinearProgress, Table, TableBody, TableCell, TableHead, TableRow, Typography } from '@mui/material';
import { useQuery } from '@tanstack/react-query';
import { useCallback, useState } from 'react';
import { Link, Title, useDataProvider } from 'react-admin';
import type { Mailing, StatusCounts } from '../api-types';
import type { AppDataProvider } from '../dataProvider';
import { formatInstant, StatusChip } from '../format';
import { Counts, handledShare, LIVE_MS } from '../mailings/MailingShow';

/** The running mailings shown, the newest first. */
const RUNNING_SHOWN = 100;
/** How many of the next scheduled mailings are listed. */
const NEXT_SHOWN = 5;
/** The scheduled mailings read to find the next ones: the API lists by id, not by start. */
const SCHEDULED_READ = 1000;

function Progress({ counts }: { counts: StatusCounts }) {
  const { handled, total } = handledShare(counts);
  return (
    <Box sx={{ minWidth: 200 }}>
      <LinearProgress variant="determinate" value={total ? (100 * handled) / total : 0} />
      <Typography variant="caption">
        {handled} of {total} handled, {counts.sent} sent
      </Typography>
    </Box>
  );
}

const mailingLink = (m: Mailing) => <Link to={`/mailings/${m.id}/show`}>#{m.id}</Link>;

function Totals() {
  const dataProvider = useDataProvider<AppDataProvider>();
  const { data } = useQuery({ queryKey: ['dashboard', 'totals'], queryFn: () => dataProvider.summary(undefined, 1), refetchInterval: LIVE_MS });
  return (
    <Card>
      <CardHeader title="Messages of every mailing" subheader="by status" />
      <CardContent data-testid="totals">{data ? <Counts counts={data.totals} /> : <LinearProgress />}</CardContent>
    </Card>
  );
}

function Running({ onSeen }: { onSeen: (ids: number[]) => void }) {
  const dataProvider = useDataProvider<AppDataProvider>();
  const { data } = useQuery({
    queryKey: ['dashboard', 'running'],
    queryFn: async () => {
      const page = await dataProvider.summary('running', RUNNING_SHOWN);
      onSeen(page.items.map((i) => i.mailing.id));
      return page;
    },
    refetchInterval: LIVE_MS,
  });
  return (
    <Card>
      <CardHeader title="Running now" subheader={data?.next_cursor ? `the ${RUNNING_SHOWN} created last` : undefined} />
      <CardContent data-testid="running">
        {!data ? (
          <LinearProgress />
        ) : data.items.length === 0 ? (
          <Typography variant="body2">No mailing is sending right now.</Typography>
        ) : (
          <Table size="small">
            <TableHead>
              <TableRow>
                <TableCell>Mailing</TableCell>
                <TableCell>Text</TableCell>
                <TableCell>Ends</TableCell>
                <TableCell>Progress</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {data.items.map(({ mailing, counts }) => (
                <TableRow key={mailing.id} data-mailing-id={mailing.id}>
                  <TableCell>{mailingLink(mailing)}</TableCell>
                  <TableCell>{mailing.text}</TableCell>
                  <TableCell>{formatInstant(mailing.end_at)}</TableCell>
                  <TableCell>
                    <Progress counts={counts} />
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </CardContent>
    </Card>
  );
}

function NextScheduled({ onSeen }: { onSeen: (ids: number[]) => void }) {
  const dataProvider = useDataProvider<AppDataProvider>();
  const { data } = useQuery({
    queryKey: ['dashboard', 'scheduled'],
    queryFn: async () => {
      const page = await dataProvider.mailingsIn('scheduled', SCHEDULED_READ);
      onSeen(page.items.map((m) => m.id));
      return page;
    },
    refetchInterval: LIVE_MS,
  });
  const next = [...(data?.items ?? [])].sort((a, b) => a.start_at.localeCompare(b.start_at)).slice(0, NEXT_SHOWN);
  return (
    <Card>
      <CardHeader title="Next scheduled" subheader={data?.next_cursor ? `among the first ${SCHEDULED_READ} scheduled mailings` : undefined} />
      <CardContent data-testid="scheduled">
        {!data ? (
          <LinearProgress />
        ) : next.length === 0 ? (
          <Typography variant="body2">Nothing is scheduled.</Typography>
        ) : (
          <Table size="small">
            <TableHead>
              <TableRow>
                <TableCell>Mailing</TableCell>
                <TableCell>Text</TableCell>
                <TableCell>Starts</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {next.map((m) => (
                <TableRow key={m.id} data-mailing-id={m.id}>
                  <TableCell>{mailingLink(m)}</TableCell>
                  <TableCell>{m.text}</TableCell>
                  <TableCell>{formatInstant(m.start_at)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </CardContent>
    </Card>
  );
}

/** A mailing this page saw scheduled or running that is neither any more: how it ended. */
function EndedRow({ id }: { id: number }) {
  const dataProvider = useDataProvider<AppDataProvider>();
  const { data, error } = useQuery({ queryKey: ['dashboard', 'ended', id], queryFn: () => dataProvider.mailingInfo(id), refetchInterval: (q) => (q.state.data?.counts.pending ? LIVE_MS : false), retry: false });
  return (
    <TableRow data-mailing-id={id}>
      <TableCell>
        <Link to={`/mailings/${id}/show`}>#{id}</Link>
      </TableCell>
      <TableCell>{data ? <StatusChip status={data.mailing.status} /> : error ? 'deleted' : '…'}</TableCell>
      <TableCell>{data?.mailing.text}</TableCell>
      <TableCell>{data && <Progress counts={data.counts} />}</TableCell>
    </TableRow>
  );
}

function RecentlyChanged({ ids }: { ids: number[] }) {
  if (ids.length === 0) return null;
  return (
    <Card>
      <CardHeader title="Left the schedule since you opened this page" subheader="paused, finished, expired or deleted" />
      <CardContent data-testid="ended">
        <Table size="small">
          <TableHead>
            <TableRow>
              <TableCell>Mailing</TableCell>
              <TableCell>Status</TableCell>
              <TableCell>Text</TableCell>
              <TableCell>Result</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {ids.map((id) => (
              <EndedRow key={id} id={id} />
            ))}
          </TableBody>
        </Table>
      </CardContent>
    </Card>
  );
}

/**
 * Mailings seen running or scheduled on this page, so that one that stops being either (it finished,
 * say) stays in view with its result instead of silently vanishing. Each list reports what it read.
 */
function useLeftSchedule() {
  const [lists, setLists] = useState<{ running: number[]; scheduled: number[]; seen: number[] }>({ running: [], scheduled: [], seen: [] });
  const report = useCallback(
    (list: 'running' | 'scheduled') => (ids: number[]) => setLists((l) => ({ ...l, [list]: ids, seen: [...new Set([...l.seen, ...ids])] })),
    [],
  );
  const current = new Set([...lists.running, ...lists.scheduled]);
  return { report, left: lists.seen.filter((id) => !current.has(id)).reverse() };
}

export function Dashboard() {
  const { report, left } = useLeftSchedule();
  return (
    <Box sx={{ display: 'grid', gap: 2, mt: 2 }}>
      <Title title="Dashboard" />
      <Totals />
      <Running onSeen={report('running')} />
      <RecentlyChanged ids={left} />
      <NextScheduled onSeen={report('scheduled')} />
    </Box>
  );
}
