import assert from 'node:assert/strict';
import { ConfigError, loadConfig, secretKeys, statsEmailSettings } from '../config';

/** STATS_EMAIL_* and SMTP_URL (config/index.ts): when and to whom the daily statistics e-mail goes. */
describe('daily statistics e-mail settings', () => {
  it('sends at 08:00 UTC to nobody when nothing is set', () => {
    assert.deepEqual(statsEmailSettings(loadConfig({})), { hour: 8, minute: 0, timeZone: 'UTC', recipients: [] });
  });

  it('takes the time, the zone and a comma-separated list of recipients', () => {
    const config = loadConfig({ STATS_EMAIL_AT: '23:05', STATS_EMAIL_TZ: 'Europe/Moscow', STATS_EMAIL_TO: 'ops@example.test, lead@example.test' });
    assert.deepEqual(statsEmailSettings(config), { hour: 23, minute: 5, timeZone: 'Europe/Moscow', recipients: ['ops@example.test', 'lead@example.test'] });
  });

  it('spells the zone as the zone database does, whatever its case', () => {
    assert.equal(statsEmailSettings(loadConfig({ STATS_EMAIL_TZ: 'europe/moscow' })).timeZone, 'Europe/Moscow');
  });

  for (const [name, value] of [
    ['STATS_EMAIL_AT', '8:00'],
    ['STATS_EMAIL_AT', '24:00'],
    ['STATS_EMAIL_TZ', 'Mars/Olympus'],
    ['STATS_EMAIL_TO', 'ops.example.test'],
    ['STATS_EMAIL_TO', 'ops@example.test lead@example.test'],
    ['STATS_EMAIL_FROM', 'stats'],
    ['SMTP_URL', 'http://mail.example.test'],
  ]) {
    it(`refuses ${name}=${value} at start, naming it`, () => {
      assert.throws(() => loadConfig({ [name]: value }), (error: Error) => error instanceof ConfigError && error.message.includes(name));
    });
  }

  // That the logger redacts every secret setting is checked in config.spec.ts.
  it('counts SMTP_URL, which carries the SMTP password, among the secret settings', () => {
    assert.ok((secretKeys as readonly string[]).includes('SMTP_URL'));
  });
});
