import assert from 'node:assert/strict';
import { nextOpening, type SendWindow } from '../../activities/send-window';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString().replace('.000', '');

interface Case {
  name: string;
  zone: string;
  window: SendWindow;
  asked: string;
  opens: string;
  closes: string;
}

const cases: Case[] = [
  {
    name: 'Asia/Yekaterinburg (UTC+5), 09:00-21:00, asked at 07:00Z (12:00 local): open at once until 21:00 local',
    zone: 'Asia/Yekaterinburg', window: { from: '09:00', to: '21:00' },
    asked: '2024-01-02T07:00:00Z', opens: '2024-01-02T07:00:00Z', closes: '2024-01-02T16:00:00Z',
  },
  {
    name: 'Asia/Yekaterinburg, asked at 17:00Z (22:00 local): the next morning at 09:00 local',
    zone: 'Asia/Yekaterinburg', window: { from: '09:00', to: '21:00' },
    asked: '2024-01-02T17:00:00Z', opens: '2024-01-03T04:00:00Z', closes: '2024-01-03T16:00:00Z',
  },
  {
    name: 'a window across midnight (22:00-06:00 UTC), asked at noon: that evening',
    zone: 'UTC', window: { from: '22:00', to: '06:00' },
    asked: '2024-01-02T12:00:00Z', opens: '2024-01-02T22:00:00Z', closes: '2024-01-03T06:00:00Z',
  },
  {
    name: 'a window across midnight, asked at 03:00: open at once, until 06:00',
    zone: 'UTC', window: { from: '22:00', to: '06:00' },
    asked: '2024-01-02T03:00:00Z', opens: '2024-01-02T03:00:00Z', closes: '2024-01-02T06:00:00Z',
  },
  {
    name: 'America/New_York springing forward (02:00 EST -> 03:00 EDT), from 02:30: the first valid instant, 03:00 EDT',
    zone: 'America/New_York', window: { from: '02:30', to: '05:00' },
    asked: '2024-03-10T05:00:00Z', opens: '2024-03-10T07:00:00Z', closes: '2024-03-10T09:00:00Z',
  },
  {
    name: 'America/New_York falling back (02:00 EDT -> 01:00 EST), from 01:30: its first occurrence, in EDT',
    zone: 'America/New_York', window: { from: '01:30', to: '03:00' },
    asked: '2024-11-03T04:00:00Z', opens: '2024-11-03T05:30:00Z', closes: '2024-11-03T08:00:00Z',
  },
  {
    name: 'Europe/Berlin springing forward (02:00 CET -> 03:00 CEST), from 02:15: 03:00 CEST',
    zone: 'Europe/Berlin', window: { from: '02:15', to: '08:00' },
    asked: '2024-03-31T00:00:00Z', opens: '2024-03-31T01:00:00Z', closes: '2024-03-31T06:00:00Z',
  },
  {
    name: 'Europe/Berlin falling back (03:00 CEST -> 02:00 CET), from 02:30: its first occurrence, in CEST',
    zone: 'Europe/Berlin', window: { from: '02:30', to: '04:00' },
    asked: '2024-10-26T22:00:00Z', opens: '2024-10-27T00:30:00Z', closes: '2024-10-27T03:00:00Z',
  },
  {
    name: 'Europe/Berlin, an ordinary day window on the day clocks go back: 09:00-21:00 CET',
    zone: 'Europe/Berlin', window: { from: '09:00', to: '21:00' },
    asked: '2024-10-27T00:00:00Z', opens: '2024-10-27T08:00:00Z', closes: '2024-10-27T20:00:00Z',
  },
  {
    name: 'Asia/Kathmandu (UTC+5:45), 09:00-17:00, asked at 05:45 local',
    zone: 'Asia/Kathmandu', window: { from: '09:00', to: '17:00' },
    asked: '2024-01-02T00:00:00Z', opens: '2024-01-02T03:15:00Z', closes: '2024-01-02T11:15:00Z',
  },
  {
    name: 'Asia/Kolkata (UTC+5:30), 09:00-21:00, asked at 05:30 local',
    zone: 'Asia/Kolkata', window: { from: '09:00', to: '21:00' },
    asked: '2024-01-02T00:00:00Z', opens: '2024-01-02T03:30:00Z', closes: '2024-01-02T15:30:00Z',
  },
  {
    name: 'Australia/Lord_Howe, whose clocks move by 30 minutes (02:00 -> 02:30), from 02:10: 02:30',
    zone: 'Australia/Lord_Howe', window: { from: '02:10', to: '06:00' },
    asked: '2024-10-05T14:00:00Z', opens: '2024-10-05T15:30:00Z', closes: '2024-10-05T19:00:00Z',
  },
];

describe('the send window of a client', () => {
  for (const c of cases) {
    it(c.name, () => {
      const opening = nextOpening(c.zone, c.window, at(c.asked));
      assert.deepEqual({ opens: iso(opening.at), closes: iso(opening.until) }, { opens: c.opens, closes: c.closes });
    });
  }

  it('gives nothing to a client whose whole mailing lies in its local night', () => {
    // Mailing 17:00Z-03:00Z is 22:00-08:00 in Yekaterinburg: the first opening comes after the end.
    const opening = nextOpening('Asia/Yekaterinburg', { from: '09:00', to: '21:00' }, at('2024-01-02T17:00:00Z'));
    assert.ok(opening.at >= at('2024-01-03T03:00:00Z'));
  });
});
