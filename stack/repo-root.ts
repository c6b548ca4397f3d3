import path from 'node:path';

/** The repository root: children run from here and `.venv` / `DATA_DIR` resolve against it. */
export const repoRoot = path.resolve(__dirname, '..');
