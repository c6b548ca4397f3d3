/**
 * Node flags for worker processes (the `worker` npm scripts, the image's and the manifests' commands
 * spell the same flags). V8 otherwise lets the heap grow far beyond what a worker needs: with the old
 * space capped a 100,000-message mailing peaked at 257-259 MB RSS instead of 310-324 MB, at the same
 * speed. Young semi-spaces of 8 MB (16 by default) keep 50 mailings at once under 300 MB (278 MB; 303
 * at 16) while scavenges stay cheap: at 4 MB, a quarter of the worker's CPU went to the collector,
 * and a worker at 256 requests in flight sent 5,500 messages/s at 0.156 ms of CPU each; at 8 MB,
 * 7,060 at 0.107 (`npm run bench`, the worker compiled as in production).
 */
export const WORKER_NODE_FLAGS = ['--max-old-space-size=128', '--max-semi-space-size=8'];
