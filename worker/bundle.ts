import { bundleWorkflowCode } from '@temporalio/worker';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * `npm run bundle`: builds the workflow bundle ahead of time (WORKFLOW_BUNDLE_PATH points the
 * worker at it), so that workers start without running webpack and its memory peak.
 */
export async function writeWorkflowBundle(file: string): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows') });
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, code);
}

if (require.main === module) {
  const file = path.resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
  writeWorkflowBundle(file).then(
    () => console.log(`workflow bundle written to ${file}`),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
