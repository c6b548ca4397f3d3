import { median } from './common';

/** One line of the summary table (and of the JSON): a figure, how it is shown, its target. */
export interface SummaryRow {
  scenario: string;
  figure: string;
  shown: string;
  unit?: string;
  /** Every measured value (one per repeat), or the distribution's min, median, max. */
  values?: number[];
  median?: number;
  min?: number;
  max?: number;
  target?: string;
  /** Whether the target was met (by the median); reported, not asserted. */
  met?: boolean;
}

export interface Target {
  text: string;
  ok: (value: number) => boolean;
}

export const fmt = (value: number, digits = 0) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : String(value);

/** A figure measured once per repeat: its median, and its spread when there is more than one. */
export function repeated(scenario: string, figure: string, unit: string, values: number[], digits = 0, target?: Target): SummaryRow {
  const mid = median(values);
  const [min, max] = [Math.min(...values), Math.max(...values)];
  const spread = values.length > 1 ? `  (${fmt(min, digits)}–${fmt(max, digits)}, n=${values.length})` : '';
  return {
    scenario,
    figure,
    unit,
    shown: `${fmt(mid, digits)}${unit ? ` ${unit}` : ''}${spread}`,
    values,
    median: mid,
    min,
    max,
    ...(target && { target: target.text, met: target.ok(mid) }),
  };
}

/** A distribution measured in one run (e.g. over 50 mailings): min / median / max. */
export function spread(scenario: string, figure: string, unit: string, samples: number[], digits = 0, target?: Target & { of: 'max' | 'median' }): SummaryRow {
  const [min, mid, max] = [Math.min(...samples), median(samples), Math.max(...samples)];
  return {
    scenario,
    figure,
    unit,
    shown: `${fmt(min, digits)} / ${fmt(mid, digits)} / ${fmt(max, digits)} ${unit}  (min / median / max of ${samples.length})`,
    median: mid,
    min,
    max,
    ...(target && { target: target.text, met: target.ok(target.of === 'max' ? max : mid) }),
  };
}

/** A figure measured once. */
export function single(scenario: string, figure: string, unit: string, value: number, digits = 0, target?: Target, note = ''): SummaryRow {
  return {
    scenario,
    figure,
    unit,
    shown: `${fmt(value, digits)}${unit ? ` ${unit}` : ''}${note ? `  ${note}` : ''}`,
    values: [value],
    median: value,
    ...(target && { target: target.text, met: target.ok(value) }),
  };
}

export const verdict = (row: SummaryRow) => (row.met === undefined ? '' : row.met ? 'PASS' : 'MISS');
