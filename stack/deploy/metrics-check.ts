import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Histogram } from 'prom-client';
import { parse, stringify } from 'yaml';
import { workerMetrics } from '../../activities/metrics';
import { apiMetrics } from '../../api/metrics';
import type { CheckResult } from './check';

const run = promisify(execFile);

/**
 * Offline checks of the monitoring files (deploy/prometheus, deploy/grafana) with Debian's promtool:
 * the scrape configs, the alert rules and their unit tests, and the dashboard's queries; plus that
 * every metric of this service they name is one the service exports (a misspelled name is valid
 * PromQL that silently shows nothing).
 */

async function promtool(binary: string, args: string[], cwd: string): Promise<CheckResult> {
  const shown = ['promtool', ...args.map((a) => (path.isAbsolute(a) ? path.basename(a) : a))].join(' ');
  try {
    const { stdout, stderr } = await run(binary, args, { cwd, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    return { ok: true, command: shown, output: `${stdout}${stderr}` };
  } catch (error) {
    const { stdout = '', stderr = '', message } = error as { stdout?: string; stderr?: string; message: string };
    return { ok: false, command: shown, output: `${stdout}${stderr}` || message };
  }
}

/** `promtool check config`: the scrape config and the rule files it names (beside it). */
export const checkScrapeConfig = (binary: string, file: string) => promtool(binary, ['check', 'config', file], path.dirname(file));

/** `promtool check rules`: the rules parse, and so do their expressions. */
export const checkAlertRules = (binary: string, file: string) => promtool(binary, ['check', 'rules', file], path.dirname(file));

/** `promtool test rules`: the alerts fire, and stay quiet, where their unit tests say. */
export const testAlertRules = (binary: string, file: string) => promtool(binary, ['test', 'rules', file], path.dirname(file));

/** Series names the service exports (histograms also as _bucket, _count and _sum). */
function exportedNames(): Set<string> {
  const names = new Set<string>();
  for (const metric of [...apiMetrics.getMetricsAsArray(), ...workerMetrics.getMetricsAsArray()]) {
    names.add(metric.name);
    if (metric instanceof Histogram) for (const suffix of ['_bucket', '_count', '_sum']) names.add(`${metric.name}${suffix}`);
  }
  return names;
}

/** Names of this service's metrics in PromQL text that it does not export. */
export function unknownMetricNames(promql: string): string[] {
  const exported = exportedNames();
  const named = promql.match(/\b(?:mailing_\w+|mailings|http_request_\w+)\b/g) ?? [];
  return [...new Set(named)].filter((name) => !exported.has(name));
}

/** The metrics of the service that the alert rules' expressions name, against what it exports. */
export async function checkAlertMetricNames(file: string): Promise<CheckResult> {
  const { groups = [] } = (parse(await readFile(file, 'utf8')) ?? {}) as { groups?: { rules?: { expr?: string }[] }[] };
  const unknown = unknownMetricNames(groups.flatMap((group) => (group.rules ?? []).map((rule) => rule.expr ?? '')).join('\n'));
  return { ok: unknown.length === 0, command: `metrics named in ${path.basename(file)}`, output: unknown.map((name) => `${name} is not exported by the service`).join('\n') };
}

interface Panel {
  id?: number;
  type?: string;
  title?: string;
  gridPos?: { h?: number; w?: number; x?: number; y?: number };
  targets?: { expr?: string; refId?: string }[];
}

// Grafana's interval variables, as a typical value, so that promtool can parse the queries.
const GRAFANA_VARIABLES: [RegExp, string][] = [
  [/\$__rate_interval|\$__interval|\$__range/g, '5m'],
];

/**
 * The dashboard as Grafana's model needs it (uid, title, schemaVersion, panels with ids, types,
 * positions inside the 24-column grid and queries), every query parsed by promtool (as recording
 * rules of a throwaway file) and naming only metrics the service exports.
 */
export async function checkDashboard(binary: string, file: string): Promise<CheckResult> {
  const command = `dashboard ${path.basename(file)} (model, queries by promtool)`;
  let dashboard: { uid?: string; title?: string; schemaVersion?: number; panels?: Panel[] };
  try {
    dashboard = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    return { ok: false, command, output: `not JSON: ${(error as Error).message}` };
  }
  const problems: string[] = [];
  if (!dashboard.uid || !dashboard.title || typeof dashboard.schemaVersion !== 'number') problems.push('uid, title and schemaVersion are required');
  const panels = dashboard.panels ?? [];
  if (!panels.length) problems.push('no panels');
  const ids = new Set<number>();
  const queries: { record: string; expr: string }[] = [];
  for (const panel of panels) {
    const name = `panel ${panel.id} "${panel.title}"`;
    if (typeof panel.id !== 'number' || ids.has(panel.id)) problems.push(`${name}: its id must be a number of its own`);
    ids.add(panel.id!);
    const { h, w, x, y } = panel.gridPos ?? {};
    if (![h, w, x, y].every((v) => Number.isInteger(v)) || x! + w! > 24) problems.push(`${name}: gridPos must place it inside the 24 columns`);
    if (!panel.type) problems.push(`${name}: no type`);
    if (panel.type === 'row') continue;
    if (!panel.targets?.length) problems.push(`${name}: no query`);
    for (const target of panel.targets ?? []) {
      if (!target.expr) {
        problems.push(`${name}: a query without expr`);
        continue;
      }
      const expr = GRAFANA_VARIABLES.reduce((text, [variable, value]) => text.replace(variable, value), target.expr);
      queries.push({ record: `dashboard:panel_${panel.id}_${target.refId ?? queries.length}`, expr });
      for (const unknown of unknownMetricNames(expr)) problems.push(`${name}: ${unknown} is not exported by the service`);
    }
  }
  if (queries.length) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dashboard-queries-'));
    try {
      const rules = path.join(dir, 'queries.yml');
      await writeFile(rules, stringify({ groups: [{ name: 'dashboard', rules: queries }] }));
      const parsed = await checkAlertRules(binary, rules);
      if (!parsed.ok) problems.push(parsed.output);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return { ok: problems.length === 0, command, output: problems.join('\n') };
}

/** Every check of deploy/prometheus and deploy/grafana under `root`. */
export async function checkMonitoringFiles(binary: string, root: string): Promise<CheckResult[]> {
  const prometheus = path.join(root, 'deploy', 'prometheus');
  return [
    await checkScrapeConfig(binary, path.join(prometheus, 'prometheus.yml')),
    await checkScrapeConfig(binary, path.join(prometheus, 'prometheus-local.yml')),
    await checkAlertRules(binary, path.join(prometheus, 'alerts.yml')),
    await testAlertRules(binary, path.join(prometheus, 'alerts.test.yml')),
    await checkAlertMetricNames(path.join(prometheus, 'alerts.yml')),
    await checkDashboard(binary, path.join(root, 'deploy', 'grafana', 'mailing-service.json')),
  ];
}
