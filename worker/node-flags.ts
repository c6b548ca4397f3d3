/**
 * Node flags for worker processes (the `worker` npm script spells the same flag). V8 otherwise lets
 * the heap grow far beyond what a worker needs: with this cap a 100,000-message mailing peaked at
 * 257-259 MB RSS instead of 310-324 MB, at the same speed (`npm run bench`).
 */
export const WORKER_NODE_FLAGS = ['--max-old-space-size=128'];
