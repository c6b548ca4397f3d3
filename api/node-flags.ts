/**
 * Node flags for API processes (the `api` npm scripts, the image's and the manifests' commands spell
 * the same flags). V8 starts the young generation small and grows it only as allocation goes on, so a
 * burst of requests after a quiet spell spent its first seconds in scavenges, and requests queued behind
 * them: at 200 mixed reads a second, every answer slower than 50 ms came in the load's first 3 s, p99
 * 163-505 ms. Starting at 16 MB semi-spaces (V8's largest by default), p99 was 28 ms (`npm run bench`).
 */
export const API_NODE_FLAGS = ['--min-semi-space-size=16'];
