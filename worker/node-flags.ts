/**
 * Node flags for worker processes (the `worker` npm scripts, the image's and the manifests' commands
 * spell the same flags). V8 otherwise lets the heap grow far beyond what a worker needs: with the old
 * space capped a 100,000-message mailing peaked at 257-259 MB RSS instead of 310-324 MB, at the same
 * speed; with 4 MB young semi-spaces (16 by default) 50 mailings at once peaked at 294 MB instead of
 * 331, and one of 100,000 at 249 instead of 279, at the same speed (`npm run bench`).
 */
export const WORKER_NODE_FLAGS = ['--max-old-space-size=128', '--max-semi-space-size=4'];
