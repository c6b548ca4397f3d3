import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CheckResult } from '../stack/deploy/check';
import { PROMTOOL, systemProgram } from '../stack/tools/system-programs';
import { checkAlertMetricNames, checkAlertRules, checkDashboard, checkScrapeConfig, testAlertRules } from '../stack/deploy/metrics-check';

const ROOT = path.resolve(__dirname, '..');
const PROMETHEUS_DIR = path.join(ROOT, 'deploy', 'prometheus');
const DASHBOARD = path.join(ROOT, 'deploy', 'grafana', 'mailing-service.json');

/**
 * The monitoring files (deploy/prometheus, deploy/grafana), checked by Debian's promtool as
 * `npm run check:deploy` does: each check passes on the file in the repository and fails on a copy
 * broken on purpose, so none of them can pass by not looking.
 */
describe('monitoring files, checked by promtool', function () {
  this.timeout(60_000);
  let promtool: string;
  let work: string;

  before(async function () {
    this.timeout(15 * 60_000); // apt-get install prometheus, the first time on a fresh machine
    promtool = await systemProgram(PROMTOOL);
    work = await mkdtemp(path.join(os.tmpdir(), 'monitoring-spec-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  /** deploy/prometheus copied to a fresh folder, `file` in it with each `[from, to]` replaced once. */
  async function brokenCopy(source: string, file: string, edits: [string, string][]): Promise<string> {
    const dir = await mkdtemp(path.join(work, 'broken-'));
    for (const name of ['prometheus.yml', 'alerts.yml', 'alerts.test.yml']) await copyFile(path.join(PROMETHEUS_DIR, name), path.join(dir, name));
    let text = await readFile(path.join(source, file), 'utf8');
    for (const [from, to] of edits) {
      assert.ok(text.includes(from), `${file} no longer contains ${JSON.stringify(from)}: update the broken copy`);
      text = text.replace(from, to);
    }
    await writeFile(path.join(dir, file), text);
    return path.join(dir, file);
  }

  const passes = (result: CheckResult) => assert.ok(result.ok, `${result.command} failed:\n${result.output}`);
  function fails(result: CheckResult, expected: string | RegExp) {
    assert.equal(result.ok, false, `${result.command} passed a broken file:\n${result.output}`);
    assert.ok(typeof expected === 'string' ? result.output.includes(expected) : expected.test(result.output), `${result.command} did not say ${expected}:\n${result.output}`);
  }

  describe('scrape configs (promtool check config)', () => {
    for (const file of ['prometheus.yml', 'prometheus-local.yml']) {
      it(`passes ${file}, with the alert rules it loads`, async () => {
        passes(await checkScrapeConfig(promtool, path.join(PROMETHEUS_DIR, file)));
      });
    }

    it('fails on a misspelled key', async () => {
      fails(await checkScrapeConfig(promtool, await brokenCopy(PROMETHEUS_DIR, 'prometheus.yml', [['dns_sd_configs', 'dns_sd_config']])), 'field dns_sd_config not found');
    });
  });

  describe('alert rules (promtool check rules, promtool test rules)', () => {
    it('passes', async () => {
      passes(await checkAlertRules(promtool, path.join(PROMETHEUS_DIR, 'alerts.yml')));
      passes(await checkAlertMetricNames(path.join(PROMETHEUS_DIR, 'alerts.yml')));
    });

    it('fails on an expression that does not parse', async () => {
      const file = await brokenCopy(PROMETHEUS_DIR, 'alerts.yml', [['expr: up{job="mailing-worker"} == 0', 'expr: up{job="mailing-worker"} == = 0']]);
      fails(await checkAlertRules(promtool, file), /parse error/);
    });

    it('fails on a metric the service does not export', async () => {
      const file = await brokenCopy(PROMETHEUS_DIR, 'alerts.yml', [['increase(mailing_outage_backoffs_total[5m])', 'increase(mailing_outage_backoff_total[5m])']]);
      fails(await checkAlertMetricNames(file), 'mailing_outage_backoff_total is not exported');
    });

    it('fire, and stay quiet, where their unit tests say', async () => {
      passes(await testAlertRules(promtool, path.join(PROMETHEUS_DIR, 'alerts.test.yml')));
    });

    it('fail their unit tests when a threshold moves', async () => {
      const dir = path.dirname(await brokenCopy(PROMETHEUS_DIR, 'alerts.yml', [['            > 0.1\n', '            > 0.5\n']]));
      fails(await testAlertRules(promtool, path.join(dir, 'alerts.test.yml')), 'alertname: MailingProviderErrorRate');
    });
  });

  describe('Grafana dashboard', () => {
    it('passes: a dashboard model whose every query parses and names exported metrics', async () => {
      passes(await checkDashboard(promtool, DASHBOARD));
    });

    it('fails on a query that does not parse', async () => {
      fails(await checkDashboard(promtool, await brokenCopy(path.dirname(DASHBOARD), 'mailing-service.json', [['max(mailing_messages_pending)', 'max(mailing_messages_pending']])), /parse error/);
    });

    it('fails on a metric the service does not export', async () => {
      const file = await brokenCopy(path.dirname(DASHBOARD), 'mailing-service.json', [['rate(mailing_messages_claimed_total', 'rate(mailing_message_claimed_total']]);
      fails(await checkDashboard(promtool, file), 'mailing_message_claimed_total is not exported');
    });

    it('fails on a panel outside the grid', async () => {
      fails(await checkDashboard(promtool, await brokenCopy(path.dirname(DASHBOARD), 'mailing-service.json', [['"w": 12,', '"w": 30,']])), 'inside the 24 columns');
    });
  });
});
