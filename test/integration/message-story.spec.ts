import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { loadConfig } from '../../config';
import { temporalCliPath } from '../../stack/temporal/cli';
import { FakeProvider, startFakeProvider } from '../../stack/fake-provider';
import { uniqueTag, useApi } from '../support/api';
import { eventually } from '../support/eventually';
import { testStack } from '../support/stack';
import { WorkerProcess } from '../support/worker-process';

/** The JSON lines among a process's output (the rest, if any, is not a log line). */
function jsonLines(output: string): Record<string, unknown>[] {
  return output.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line)];
    } catch {
      return [];
    }
  });
}

describe('a mailing run told by its logs and its progress query', function () {
  this.timeout(120_000);
  const taskQueue = `story-${randomUUID().slice(0, 8)}`;
  const token = `secret-${randomUUID()}`;
  const apiOutput: string[] = [];
  const ctx = useApi({ taskQueue, logs: { write: (line) => void apiOutput.push(line) } });
  let provider: FakeProvider;
  let worker: WorkerProcess;
  let mailingId: number;
  /** A message the provider answered 503 at least once before it accepted it. */
  let messageId: number;

  before(async () => {
    provider = await startFakeProvider({ seed: 12, token });
    provider.setFaults({ errorRate: 0.6, errorStatus: 503 });
    worker = new WorkerProcess({
      LOG_LEVEL: 'debug',
      TEMPORAL_TASK_QUEUE: taskQueue,
      SEND_API_URL: provider.url,
      SEND_API_TOKEN: token,
      SEND_RETRY_INITIAL_MS: '100',
      SEND_RETRY_MAX_MS: '300',
    });
    await worker.start();

    const tag = uniqueTag('story');
    for (let i = 0; i < 8; i++) await ctx.api.createClient({ tag });
    mailingId = (await ctx.api.createMailing({ start_at: new Date().toISOString(), end_at: new Date(Date.now() + 3_600_000).toISOString(), text: 'story', filter: { tag } })).id;
    await eventually(async () => ((await ctx.api.get(`/api/mailings/${mailingId}/`)).body.status === 'finished' ? true : undefined));
    const retried = [...provider.countsByMsgId()].filter(([, requests]) => requests > 1).map(([id]) => id);
    assert.ok(retried.length > 0, 'the provider answered no message 503 first');
    messageId = retried[0];
    assert.equal((await ctx.api.get(`/api/messages/${messageId}/`)).status, 200);
  });
  after(async () => {
    await worker?.kill('SIGTERM');
    await provider?.stop();
  });

  it("tells one message's story in the worker's lines that carry its id: claimed, request, answer, outcome, and the retry", async () => {
    // The last outcome is written within 50 ms of its answer; the mailing finishes only after that.
    const story = await eventually(async () => {
      const lines = jsonLines(worker.logs()).filter((line) => line.messageId === messageId);
      return lines.some((line) => line.outcome === 'sent') ? lines : undefined;
    }, 10_000);
    assert.ok(story.every((line) => line.mailingId === mailingId), 'every line of the message names its mailing');
    const claims = story.filter((line) => line.msg === 'message claimed');
    assert.ok(
      claims.length > 0 && claims.every((line) => line.workflowId === `mailing-${mailingId}` && typeof line.activityId === 'string' && typeof line.attempt === 'number'),
      'each claim names its send batch',
    );
    const steps = story.map((line) => (line.msg === 'provider answered' ? `${line.msg} ${line.status}` : line.msg === 'send outcome recorded' ? `${line.msg}: ${line.outcome}` : line.msg));
    // One round per request the provider received for it: 503s, then the 200.
    const expected = provider
      .received()
      .filter((request) => request.msgId === messageId)
      .flatMap((request) => {
        const ok = request.outcome === 'ok';
        return ['message claimed', 'provider request sent', `provider answered ${ok ? 200 : 503}`, `send outcome recorded: ${ok ? 'sent' : 'retry scheduled'}`];
      });
    assert.deepEqual(
      steps.filter((step) => step !== 'send will be retried'),
      expected,
    );
    const answers = story.filter((line) => line.msg === 'provider answered');
    assert.ok(answers.every((line) => typeof line.durationMs === 'number' && line.durationMs >= 0), 'each answer carries its duration');
    assert.ok(story.find((line) => line.outcome === 'retry scheduled')?.retryAt, 'the retry carries its time');
  });

  it("puts the mailing's id on the workflow's lines and the API's, and the message's on the API request that read it", async () => {
    // The line follows the commit the API saw as `finished`: it may reach the worker's output a moment later.
    const finished = () => jsonLines(worker.logs()).some((line) => line.mailingId === mailingId && line.workflowId === `mailing-${mailingId}` && line.msg === 'mailing finished');
    assert.ok(await eventually(async () => finished() || undefined, 10_000).catch(() => false), 'the workflow logs its end with the mailing id');
    await ctx.api.get(`/api/messages/?mailing_id=${mailingId}`);
    const apiLines = jsonLines(apiOutput.join(''));
    assert.ok(apiLines.some((line) => line.msg === 'request' && line.method === 'POST' && line.status === 201 && line.mailingId === mailingId), 'the creating request names the new mailing');
    assert.ok(apiLines.some((line) => line.msg === 'request' && line.path === '/api/messages/' && line.mailingId === mailingId), 'a list filtered by mailing names it');
    assert.ok(apiLines.some((line) => line.msg === 'request' && line.path === `/api/messages/${messageId}/` && line.messageId === messageId), 'reading the message names it');
  });

  it('never writes the provider token', () => {
    assert.ok(worker.logs().includes('provider request sent'), 'the worker logged its requests');
    assert.ok(!worker.logs().includes(token), "the worker's logs hold the token");
    assert.ok(!apiOutput.join('').includes(token), "the API's logs hold the token");
  });

  it("answers `temporal workflow query --type progress` with what the run's batches reported", async () => {
    const { temporalAddress, namespace } = testStack();
    const args = ['workflow', 'query', '--workflow-id', `mailing-${mailingId}`, '--type', 'progress', '--address', temporalAddress, '--namespace', namespace, '-o', 'json'];
    const { stdout } = await promisify(execFile)(await temporalCliPath(loadConfig()), args);
    const progress = JSON.parse(stdout).queryResult[0];
    const requests = provider.received().length;
    assert.deepEqual(
      { phase: progress.phase, sent: progress.sent, attempted: progress.attempted, pending: progress.pending },
      { phase: 'finished', sent: 8, attempted: requests, pending: 0 },
    );
  });
});
