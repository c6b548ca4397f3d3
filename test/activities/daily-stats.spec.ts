import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { DateTime } from 'luxon';
import { Model } from 'objection';
import { createDailyStatsActivities } from '../../activities/daily-stats';
import { createStatsMailer, type StatsMailer } from '../../activities/stats-mailer';
import { createLogger } from '../../config/logger';
import { connectDatabase, type Database } from '../../storage/database';
import { closeDeleted, markDeleted } from '../../storage/mailing-lifecycle';
import { closePending, recordOutcomes } from '../../storage/messages';
import { freePort } from '../../stack/process/ports';
import { startMailSink, type MailSink } from '../../stack/mail-sink';
import { insertClients, insertMailing, insertMessages } from './fixtures';

const ZONE = 'Europe/Moscow';
const logger = createLogger('silent', 'daily-stats-spec');
const FROM = 'stats@example.test';
const TO = ['ops@example.test', 'lead@example.test'];

describe('daily statistics e-mail', function () {
  this.timeout(30_000);
  let db: Database;
  let sink: MailSink;
  let mailer: StatsMailer;
  let mailDir: string;
  // A day of its own, years back, so other tests' rows never fall into it.
  const day = DateTime.fromObject({ year: 2017, month: 1, day: 1 }, { zone: ZONE }).plus({ days: randomInt(0, 1000) });
  const local = (hours: number, minutes = 0, ms = 0) => day.plus({ hours, minutes, milliseconds: ms }).toJSDate();
  const scheduledAt = local(24 + 8).toISOString(); // 08:00 the next morning

  before(async () => {
    db = connectDatabase(process.env.DATABASE_URL!);
    mailDir = await mkdtemp(path.join(os.tmpdir(), 'daily-stats-'));
    sink = await startMailSink({ dir: mailDir, refuse: (address) => address.startsWith('nobody@') });
    mailer = createStatsMailer(sink.url);
  });
  beforeEach(() => Model.knex(db));
  after(async () => {
    mailer?.close();
    await sink?.stop();
    await rm(mailDir, { recursive: true, force: true });
    await db?.destroy();
  });

  const activities = () => createDailyStatsActivities({ mail: { mailer, from: FROM }, logger });

  /** A mailing started at `startAt`, with one message per given outcome (status, when it settled, reason). */
  async function mailingWith(text: string, startAt: Date, endAt: Date, outcomes: [string, Date | null, string?][]) {
    const id = await insertMailing(db, { startAt, endAt, text, status: 'running' });
    await db('mailings').where({ id }).update({ started_at: startAt });
    const messageIds = await insertMessages(db, id, await insertClients(db, outcomes.length));
    for (const [i, [status, settledAt, reason]] of outcomes.entries()) {
      await db('messages')
        .where({ id: messageIds[i] })
        .update({ status, settled_at: settledAt, sent_at: status === 'sent' ? settledAt : null, last_error: reason ?? null });
    }
    return id;
  }

  let seeded: { main: number; quiet: number; earlier: number } | undefined;
  async function seed() {
    if (seeded) return seeded;
    const refused = 'provider refused the message (400): bad phone';
    const main = await mailingWith('Sale <b>today</b> & more', local(-2), local(30), [
      ['sent', local(0)], // 00:00 exactly: the day's first instant
      ['sent', local(12)],
      ['sent', local(23, 59, 59_999)], // the day's last millisecond
      ['sent', local(24)], // 00:00 the next day: not this day
      ['sent', local(-1)], // 23:00 the day before
      ['failed', local(9), refused],
      ['failed', local(10), refused],
      ['failed', local(11), 'provider refused the message (422): text too long'],
      ['expired', local(23, 30), 'the mailing ended before the message could be sent'],
      ['pending', null],
    ]);
    // Started the day before and still running through the day, without an outcome during it.
    const quiet = await mailingWith('quiet one', local(-10), local(40), [['pending', null]]);
    // Ended before the day began.
    const earlier = await mailingWith('last week', local(-100), local(-50), [['sent', local(-60)]]);
    seeded = { main, quiet, earlier };
    return seeded;
  }

  async function sendReport(key: string, recipients = TO) {
    const report = await activities().computeDailyStatistics({ scheduledAt, timeZone: ZONE });
    return { report, delivery: await activities().sendDailyReport({ report, recipients, key }) };
  }

  it('counts the outcomes of the local day [00:00, 24:00) in the configured zone', async () => {
    const { main, quiet, earlier } = await seed();
    const report = await activities().computeDailyStatistics({ scheduledAt, timeZone: ZONE });
    assert.equal(report.date, day.toISODate());
    assert.deepEqual(report.settled, { sent: 2 + 1, failed: 3, expired: 1, cancelled: 0 });
    assert.deepEqual(
      report.mailings.map((m) => m.id),
      [main, quiet],
    );
    assert.ok(!report.mailings.some((m) => m.id === earlier));
    assert.equal(report.mailingsRun, 2);
    assert.equal(report.pendingNow, 2);
    assert.deepEqual(report.failures, [
      { reason: 'provider refused the message (400): bad phone', count: 2 },
      { reason: 'provider refused the message (422): text too long', count: 1 },
    ]);
  });

  it('e-mails the figures as text and HTML to every recipient', async () => {
    const { main, quiet } = await seed();
    const before = sink.received.length;
    await sendReport(`figures-${randomInt(1e9)}`);
    assert.equal(sink.received.length, before + 1);
    const mail = sink.received.at(-1)!;
    assert.deepEqual(
      [mail.to].flat().flatMap((a) => a!.value.map((v) => v.address)),
      TO,
    );
    assert.equal(mail.subject, `Mailing statistics for ${day.toISODate()} (${ZONE}): 3 sent, 3 failed`);
    const text = mail.text!;
    assert.match(text, /^Mailings run: 2$/m);
    assert.match(text, /^Messages: sent 3, failed 3, expired 1, cancelled 0$/m);
    assert.match(text, /^Still pending now: 2$/m);
    assert.match(text, new RegExp(`^  #${main} "Sale <b>today</b> & more" \\(running\\): sent 3, failed 3, expired 1, cancelled 0, pending now 1$`, 'm'));
    assert.match(text, new RegExp(`^  #${quiet} "quiet one" \\(running\\): sent 0, failed 0, expired 0, cancelled 0, pending now 1$`, 'm'));
    assert.match(text, /^ {2}2 {2}provider refused the message \(400\): bad phone$/m);
    const html = String(mail.html);
    assert.ok(html.includes('<tr><td>Mailings run</td><td>2</td></tr>'));
    assert.ok(html.includes('<tr><td>Messages sent</td><td>3</td></tr>'));
    assert.ok(html.includes('<tr><td>Messages failed</td><td>3</td></tr>'));
    assert.ok(html.includes(`<tr><td>#${main}</td><td>Sale &#60;b&#62;today&#60;/b&#62; &#38; more</td><td>running</td><td>3</td><td>3</td><td>1</td><td>0</td><td>1</td></tr>`));
    assert.ok(html.includes('<tr><td>2</td><td>provider refused the message (400): bad phone</td></tr>'));
  });

  it('keeps each received e-mail in the sink directory as .eml and .html', async () => {
    await seed();
    await sendReport(`files-${randomInt(1e9)}`);
    const files = await readdir(mailDir);
    const eml = files.filter((f) => f.endsWith(`Mailing-statistics-for-${day.toISODate()}-Europe-Moscow-3-sent-3-failed.eml`));
    assert.ok(eml.length >= 1, files.join(', '));
    assert.ok(files.includes(eml[0].replace(/\.eml$/, '.html')));
    assert.match(await readFile(path.join(mailDir, eml[0]), 'utf8'), /^Subject: Mailing statistics for/m);
  });

  it('sends a report once however often its send is retried', async () => {
    await seed();
    const key = `retried-${randomInt(1e9)}`;
    const before = sink.received.length;
    const first = await sendReport(key);
    const retried = await sendReport(key);
    assert.equal(first.delivery.sentNow, true);
    assert.equal(retried.delivery.sentNow, false);
    assert.equal(retried.delivery.messageId, first.delivery.messageId);
    assert.equal(sink.received.length, before + 1);
    assert.equal(sink.received.at(-1)!.messageId, first.delivery.messageId);
  });

  it('sends a report once when two attempts of its send overlap', async () => {
    await seed();
    const key = `overlapping-${randomInt(1e9)}`;
    const before = sink.received.length;
    const deliveries = await Promise.all([sendReport(key), sendReport(key)]);
    assert.deepEqual(deliveries.map((d) => d.delivery.sentNow).sort(), [false, true]);
    assert.equal(sink.received.length, before + 1);
  });

  it('fails for good when the SMTP server refuses every recipient, and records nothing', async () => {
    await seed();
    const key = `refused-${randomInt(1e9)}`;
    await assert.rejects(sendReport(key, ['nobody@example.test']), (error: ApplicationFailure) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.nonRetryable, true);
      assert.equal(error.type, 'StatsEmailRecipientsRejected');
      return true;
    });
    assert.equal(await db('stats_emails').where({ key }).first(), undefined);
  });

  it('leaves an unreachable SMTP server to Temporal to retry', async () => {
    const unreachable = createStatsMailer(`smtp://127.0.0.1:${await freePort()}`);
    const report = await activities().computeDailyStatistics({ scheduledAt, timeZone: ZONE });
    const send = createDailyStatsActivities({ mail: { mailer: unreachable, from: FROM }, logger }).sendDailyReport;
    await assert.rejects(send({ report, recipients: TO, key: `unreachable-${randomInt(1e9)}` }), (error: Error) => {
      assert.ok(!(error instanceof ApplicationFailure && error.nonRetryable), String(error));
      return true;
    });
    unreachable.close();
  });

  it('fails for good without an SMTP server configured', async () => {
    const report = await activities().computeDailyStatistics({ scheduledAt, timeZone: ZONE });
    const send = createDailyStatsActivities({ mail: null, logger }).sendDailyReport;
    await assert.rejects(send({ report, recipients: TO, key: 'no-smtp' }), { name: 'ApplicationFailure', type: 'StatsEmailMisconfigured', nonRetryable: true });
  });

  it('records when each message settled: outcomes, expiry and cancellation', async () => {
    const mailingId = await insertMailing(db);
    const [sent, failed, retried, expired] = await insertMessages(db, mailingId, await insertClients(db, 4));
    const token = 'e4b8a7d4-0000-4000-8000-000000000001';
    await db('messages').whereIn('id', [sent, failed, retried]).update({ lease_token: token, lease_until: new Date(Date.now() + 60_000) });
    await recordOutcomes(token, [
      { id: sent, status: 'sent', error: null, retryAt: null, attempted: true },
      { id: failed, status: 'failed', error: 'refused', retryAt: null, attempted: true },
      { id: retried, status: 'pending', error: '503', retryAt: new Date(Date.now() + 60_000), attempted: true },
    ]);
    await closePending(mailingId, 'expired', 'ended', { sql: 'm.id = :expired', bindings: { expired } });
    // A deleted mailing's pending messages are cancelled.
    const deletedId = await insertMailing(db);
    const [cancelled] = await insertMessages(db, deletedId, await insertClients(db, 1));
    await markDeleted(deletedId);
    await closeDeleted(deletedId);
    const rows = await db('messages').whereIn('mailing_id', [mailingId, deletedId]).select('id', 'status', 'settled_at');
    assert.equal(rows.find((r) => Number(r.id) === cancelled)?.status, 'cancelled');
    const settled = new Map(rows.map((r) => [Number(r.id), r.settled_at]));
    for (const id of [sent, failed, expired, cancelled]) assert.ok(settled.get(id) instanceof Date, `message ${id} settled`);
    assert.equal(settled.get(retried), null);
  });
});
