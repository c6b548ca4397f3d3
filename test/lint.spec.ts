import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { ESLint, type Linter } from 'eslint';

const ROOT = path.resolve(__dirname, '..');
const RULE = '@typescript-eslint/no-restricted-imports';
const WORKFLOW_FILE = 'workflows/lint-spec-sample.ts';

describe('the import rules (eslint.config.mjs)', () => {
  let eslint: ESLint;

  before(() => {
    eslint = new ESLint({ cwd: ROOT });
  });

  /** Lints `code` as if it were `filePath`; fails when ESLint would skip that file (a silent pass). */
  async function lint(code: string, filePath = WORKFLOW_FILE): Promise<Linter.LintMessage[]> {
    assert.equal(await eslint.isPathIgnored(filePath), false, `${filePath} is ignored by the config`);
    const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, filePath) });
    assert.ok(result, 'ESLint returned no result');
    return result.messages;
  }

  /** The lines of `code` whose imports the rule reports as errors. */
  async function restricted(code: string, filePath?: string): Promise<number[]> {
    const messages = await lint(code, filePath);
    const fatal = messages.filter((m) => m.fatal);
    assert.deepEqual(fatal, [], 'the sample does not parse');
    return messages.filter((m) => m.ruleId === RULE && m.severity === 2).map((m) => m.line);
  }

  it('is an error for every file in workflows/', async () => {
    const config = await eslint.calculateConfigForFile(path.join(ROOT, WORKFLOW_FILE));
    const [severity] = [config.rules?.[RULE]].flat();
    assert.ok(severity === 2 || severity === 'error', `${RULE} is ${JSON.stringify(severity)} for ${WORKFLOW_FILE}`);
  });

  it('reports a workflow that imports a Node built-in, with or without node:', async () => {
    const code = ["import { readFileSync } from 'node:fs';", "import 'fs';", 'export const read = readFileSync;'].join('\n');
    assert.deepEqual(await restricted(code), [1, 2]);
  });

  it('reports a workflow that imports a package other than @temporalio/workflow and @temporalio/common', async () => {
    const code = [
      "import axios from 'axios';",
      "import { Worker } from '@temporalio/worker';",
      'export const both = [axios, Worker];',
    ].join('\n');
    assert.deepEqual(await restricted(code), [1, 2]);
  });

  it('reports a value import from the activities, as an import, an export or an import = require', async () => {
    const code = [
      "import { createMailingActivities } from '../activities/mailing';",
      "export { createReconcileActivities } from '../activities/reconcile';",
      "import mailing = require('../activities/mailing');",
      "import { x } from './nested/../../activities/mailing';",
      'export const all = [createMailingActivities, mailing, x];',
    ].join('\n');
    assert.deepEqual(await restricted(code), [1, 2, 3, 4]);
  });

  it('accepts @temporalio/workflow, @temporalio/common, other workflow files and type-only imports of anything', async () => {
    const code = [
      "import { proxyActivities } from '@temporalio/workflow';",
      "import { SearchAttributeType } from '@temporalio/common';",
      "import { mailingWorkflow } from './mailing';",
      "import type { MailingActivities } from '../activities/mailing';",
      "import { type ReconcileActivities } from '../activities/reconcile';",
      "import type { Stats } from 'node:fs';",
      "export type { BatchReport } from '../activities/mailing';",
      '',
      "export const acts = proxyActivities<MailingActivities & ReconcileActivities>({ startToCloseTimeout: '1 minute' });",
      'export const used = [SearchAttributeType.INT, mailingWorkflow];',
      'export type Size = Stats["size"];',
    ].join('\n');
    assert.deepEqual(await lint(code), []);
  });

  it('lets a file in a subfolder of workflows/ import up to workflows/ but not beyond', async () => {
    const code = [
      "import { mailingWorkflow } from '../mailing';",
      "import { createMailingActivities } from '../../activities/mailing';",
      'export const both = [mailingWorkflow, createMailingActivities];',
    ].join('\n');
    assert.deepEqual(await restricted(code, 'workflows/nested/lint-spec-sample.ts'), [2]);
  });

  it('leaves files outside workflows/ free to import Node built-ins and activities', async () => {
    const code = ["import { readFileSync } from 'node:fs';", 'export const read = readFileSync;'].join('\n');
    assert.deepEqual(await lint(code, 'activities/lint-spec-sample.ts'), []);
  });

  it('reports a layer importing from a layer above it, a type import too', async () => {
    const code = [
      "import type { components } from '../api/schema';",
      "import { createApp } from '../api/app';",
      "import type { MailingService } from '../domain/mailings';",
      "import { createMailingActivities } from '../activities/mailing';",
      'export type Row = components["schemas"]["Mailing"] | MailingService;',
      'export const both = [createApp, createMailingActivities];',
    ].join('\n');
    assert.deepEqual(await restricted(code, 'storage/lint-spec-sample.ts'), [1, 2, 3, 4]);
    assert.deepEqual(await restricted(code, 'domain/lint-spec-sample.ts'), [1, 2, 4]);
    assert.deepEqual(await restricted(code, 'activities/lint-spec-sample.ts'), [1, 2, 3]);
  });

  it('lets each layer import the contract types and the layers below it', async () => {
    const code = [
      "import type { components } from '../contract/schema';",
      "import { knex } from '../storage/database';",
      "import { loadConfig } from '../config';",
      'export type Row = components["schemas"]["Mailing"];',
      'export const both = [knex, loadConfig];',
    ].join('\n');
    for (const layer of ['domain', 'activities', 'api', 'worker']) assert.deepEqual(await restricted(code, `${layer}/lint-spec-sample.ts`), [], layer);
  });

  it('finds nothing to report in the real workflows/ folder', async () => {
    const results = await eslint.lintFiles(['workflows/']);
    const sources = readdirSync(path.join(ROOT, 'workflows'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    assert.ok(sources.length > 0, 'workflows/ holds no .ts file');
    assert.equal(results.length, sources.length, 'ESLint skipped some of workflows/');
    const problems = results.flatMap((r) => r.messages.map((m) => `${path.relative(ROOT, r.filePath)}:${m.line} ${m.ruleId} ${m.message}`));
    assert.deepEqual(problems, []);
  });
});
