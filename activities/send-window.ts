import { DateTime } from 'luxon';

/** Local wall-clock times, `HH:MM`, in each client's own zone: `from` < `to` by day, `from` > `to` across midnight. */
export interface SendWindow {
  from: string;
  to: string;
}

export interface Opening {
  /** The earliest instant (epoch ms) at or after the one asked about when the window is open. */
  at: number;
  /** When that opening closes (exclusive). */
  until: number;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
const offsetAt = (zone: string, t: number) => DateTime.fromMillis(t, { zone }).offset * MINUTE;

/**
 * The instant a local wall-clock time occurs in `zone` (`wall` is that time written as if it were UTC).
 * A time that occurs twice (clocks going back) takes its first occurrence; a time the clocks skip
 * (going forward) becomes the first instant after the gap, i.e. the moment the clocks jump.
 */
function instantOfWallTime(zone: string, wall: number): number {
  const offsets = new Set([offsetAt(zone, wall - DAY), offsetAt(zone, wall + DAY), offsetAt(zone, wall)]);
  const occurrences = [...offsets].map((offset) => wall - offset).filter((t) => offsetAt(zone, t) === wall - t);
  if (occurrences.length > 0) return Math.min(...occurrences);
  // In the gap: the jump lies between the wall time read with the offset after it and with the one before.
  let [lo, hi] = [Math.min(...[...offsets].map((o) => wall - o)), Math.max(...[...offsets].map((o) => wall - o))];
  const after = offsetAt(zone, hi);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(zone, mid) === after) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * The first moment at or after `t` when the client's local time in `zone` is inside `window`, and when
 * that opening ends. Openings are looked for on the local days around `t`, so any window is found
 * within two days.
 */
export function nextOpening(zone: string, window: SendWindow, t: number): Opening {
  const [from, to] = [minutesOf(window.from), minutesOf(window.to)];
  const today = DateTime.fromMillis(t, { zone }).startOf('day');
  for (let day = -1; day <= 2; day++) {
    const date = today.plus({ days: day });
    const midnight = Date.UTC(date.year, date.month - 1, date.day);
    const opens = instantOfWallTime(zone, midnight + from * MINUTE);
    const closes = instantOfWallTime(zone, midnight + (to > from ? 0 : DAY) + to * MINUTE);
    if (t < closes && opens < closes) return { at: Math.max(t, opens), until: closes };
  }
  throw new Error(`no opening of ${window.from}-${window.to} in ${zone} near ${new Date(t).toISOString()}`);
}
