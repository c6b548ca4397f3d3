import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import { startFakeProvider, type FakeProvider } from '../../stack/fake-provider';
import { isoIn, randomPhone, uniqueTag, useApi } from '../support/api';
import { BROWSER_TIME_ZONE, createClientAndMailing, useBrowser } from '../support/browser';
import { eventually } from '../support/eventually';
import { startWorker, type RunningWorker } from '../support/worker';

/** Rows of the list on screen, each as its visible text. */
async function rowTexts(page: Page): Promise<string[]> {
  return page.locator('table tbody tr').allInnerTexts();
}

/** Waits until the list on screen shows exactly the rows that contain each of `expected`, in order. */
async function waitForRows(page: Page, expected: string[]): Promise<string[]> {
  let rows: string[] = [];
  try {
    return await eventually(async () => {
      rows = await rowTexts(page);
      return rows.length === expected.length && expected.every((text, i) => rows[i].includes(text)) ? rows : undefined;
    }, 20_000);
  } catch {
    assert.fail(`expected rows with ${JSON.stringify(expected)}, the list shows ${JSON.stringify(rows)}`);
  }
}

/** react-admin's "no results" state: the filters match nothing. */
const noResults = (page: Page) => page.getByText(/No .* found using the current filters/).waitFor();

async function chooseStatus(page: Page, status: string) {
  await page.getByRole('combobox', { name: 'Status' }).click();
  await page.getByRole('option', { name: status, exact: true }).click();
}

describe('admin console in Chromium', function () {
  this.timeout(120_000);
  const taskQueue = `admin-ui-${randomUUID().slice(0, 8)}`;
  // Sign-in is tested on its own (test/browser/sign-in.spec.ts); here everyone is an operator.
  const ctx = useApi({ taskQueue, auth: { disabled: true } });
  const browser = useBrowser();
  let provider: FakeProvider;
  let worker: RunningWorker;

  before(async () => {
    provider = await startFakeProvider({ seed: 1 });
    // Requests may take seconds (see the first test) without timing out.
    worker = await startWorker({ taskQueue, providerUrl: provider.url, mailings: ctx.mailings, policy: { requestTimeoutMs: 10_000 } });
  });
  after(async () => {
    await worker?.stop();
    await provider?.stop();
  });
  beforeEach(() => provider.reset());

  const open = (path: string) => browser.page.goto(new URL(path, ctx.api.baseUrl).href);

  it('creates a client and a mailing to it, and shows the mailing running and then finished on the dashboard', async () => {
    const { page } = browser;
    // Each answer takes a few seconds, so the dashboard sees the mailing running before it finishes.
    provider.setFaults({ latencyMs: 4000 });
    const tag = uniqueTag('ui');
    const phone = randomPhone();

    await open('/admin/clients/create');
    const id = await createClientAndMailing(page, { phone, tag, text: 'Hello from the admin console' });
    ctx.api.created.mailings.add(id);

    await page.getByRole('menuitem', { name: 'Dashboard' }).click();
    await page.locator(`[data-testid=running] [data-mailing-id="${id}"]`).waitFor();
    const ended = page.locator(`[data-testid=ended] [data-mailing-id="${id}"]`);
    await ended.filter({ hasText: 'finished' }).filter({ hasText: '1 of 1 handled, 1 sent' }).waitFor({ timeout: 60_000 });
    assert.deepEqual(provider.received().map((r) => [String(r.phone), r.text]), [[phone, 'Hello from the admin console']]);
  });

  it("shows the API's field error next to the field it names", async () => {
    const { page } = browser;
    const client = { phone_number: randomPhone('916'), mobile_operator_code: '900', timezone: 'Europe/Moscow' };
    const refused = await ctx.api.post('/api/clients/', client);
    assert.equal(refused.status, 422);
    const [{ field, message }] = refused.body.errors;
    assert.equal(field, 'mobile_operator_code');

    await open('/admin/clients/create');
    await page.getByLabel('Phone number').fill(client.phone_number);
    await page.getByLabel('Operator code').fill(client.mobile_operator_code);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('.ra-input-mobile_operator_code').filter({ hasText: message }).waitFor();
    assert.equal(await page.locator('.ra-input-phone_number').filter({ hasText: message }).count(), 0);
    assert.match(page.url(), /\/admin\/clients\/create$/);
  });

  it('filters the clients list by tag, then by tag and operator code', async () => {
    const { page } = browser;
    const tag = uniqueTag('list');
    const first = await ctx.api.createClient({ phone_number: randomPhone('901'), tag });
    const second = await ctx.api.createClient({ phone_number: randomPhone('902'), tag });
    await ctx.api.createClient({ phone_number: randomPhone('901'), tag: uniqueTag('other') });

    await open('/admin/clients');
    await page.getByLabel('Tag (exact)').fill(tag);
    await waitForRows(page, [second.phone_number, first.phone_number]); // newest first
    await page.getByLabel('Operator code').fill('902');
    await waitForRows(page, [second.phone_number]);
  });

  it('filters the messages list by mailing, client and status', async () => {
    const { page } = browser;
    const tag = uniqueTag('messages');
    const clients = [await ctx.api.createClient({ tag }), await ctx.api.createClient({ tag })];
    const mailing = await ctx.api.createMailing({ start_at: isoIn(-1000), end_at: isoIn(3600_000), filter: { tag } });
    await eventually(async () => ((await ctx.api.get(`/api/mailings/${mailing.id}/`)).body.status === 'finished' ? true : undefined));

    await open('/admin/messages');
    await page.getByLabel('Mailing #').fill(String(mailing.id));
    await waitForRows(page, clients.map((c) => c.phone_number).reverse()); // newest first
    await page.getByLabel('Client #').fill(String(clients[1].id));
    const [row] = await waitForRows(page, [clients[1].phone_number]);
    assert.match(row, /sent/);
    await chooseStatus(page, 'failed');
    await noResults(page);
    await chooseStatus(page, 'sent');
    await waitForRows(page, [clients[1].phone_number]);
  });

  it('pages through a list with next and previous, each row once', async () => {
    const { page } = browser;
    const tag = uniqueTag('pages');
    const phones: string[] = [];
    for (let i = 0; i < 12; i++) phones.unshift((await ctx.api.createClient({ tag })).phone_number); // newest first

    await open('/admin/clients');
    await page.getByLabel('Tag (exact)').fill(tag);
    await waitForRows(page, phones.slice(0, 12));
    await page.getByRole('combobox', { name: 'Rows per page' }).click();
    await page.getByRole('option', { name: '10', exact: true }).click();
    await waitForRows(page, phones.slice(0, 10));
    await page.getByTestId('page-range').filter({ hasText: '1–10, more follow' }).waitFor();
    await page.getByRole('button', { name: 'Next page' }).click();
    await waitForRows(page, phones.slice(10));
    await page.getByTestId('page-range').filter({ hasText: /^11–12$/ }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Next page' }).isDisabled(), true);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await waitForRows(page, phones.slice(0, 10));
  });

  it('filters the mailings list by status', async () => {
    const { page } = browser;
    const scheduled = await ctx.api.createMailing({ text: `scheduled ${randomUUID()}` });
    const paused = await ctx.api.createMailing({ text: `paused ${randomUUID()}` });
    assert.equal((await ctx.api.post(`/api/mailings/${paused.id}/pause/`)).status, 200);

    await open('/admin/mailings');
    await page.locator('table tbody tr').filter({ hasText: scheduled.text }).waitFor();
    await chooseStatus(page, 'paused');
    await page.locator('table tbody tr').filter({ hasText: scheduled.text }).waitFor({ state: 'detached' });
    await page.locator('table tbody tr').filter({ hasText: paused.text }).waitFor();
    assert.ok((await rowTexts(page)).every((row) => row.includes('paused')));
  });

  it("pauses and resumes a mailing from its page", async () => {
    const { page } = browser;
    const mailing = await ctx.api.createMailing();
    await open(`/admin/mailings/${mailing.id}/show`);
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.locator('[data-status=paused]').first().waitFor();
    assert.equal((await ctx.api.get(`/api/mailings/${mailing.id}/`)).body.status, 'paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator('[data-status=scheduled]').first().waitFor();
    assert.equal((await ctx.api.get(`/api/mailings/${mailing.id}/`)).body.status, 'scheduled');
  });

  it('deletes a mailing only once the operator confirms', async () => {
    const { page } = browser;
    const mailing = await ctx.api.createMailing();
    await open(`/admin/mailings/${mailing.id}/show`);
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').filter({ hasText: 'Delete this mailing?' }).waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await ctx.api.get(`/api/mailings/${mailing.id}/`)).status, 200);
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForURL(/\/admin\/mailings$/);
    assert.equal((await ctx.api.get(`/api/mailings/${mailing.id}/`)).status, 404);
  });

  it("shows a mailing's API error next to its field: an end before the start", async () => {
    const { page } = browser;
    await open('/admin/mailings/create');
    await page.getByLabel('Message text').fill('Ends before it starts');
    await page.getByLabel(/^Start/).fill('2099-01-02T12:00');
    await page.getByLabel(/^End/).fill('2099-01-02T11:00');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('.ra-input-end_at').filter({ hasText: /after start_at/ }).waitFor();
    assert.match(page.url(), /\/admin\/mailings\/create$/);
  });

  it("edits a scheduled mailing's text and send window, changing nothing else", async () => {
    const { page } = browser;
    const mailing = await ctx.api.createMailing({ filter: { tag: 'vip' } });
    await open(`/admin/mailings/${mailing.id}`);
    await page.getByLabel('Message text').fill('Edited in the console');
    await page.getByLabel('Not before').fill('09:00');
    await page.getByLabel('Not after').fill('21:00');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(new RegExp(`/admin/mailings/${mailing.id}/show$`));
    await page.getByText("09:00–21:00 in each client's time zone").waitFor();
    const stored = (await ctx.api.get(`/api/mailings/${mailing.id}/`)).body;
    assert.deepEqual(stored, { ...mailing, text: 'Edited in the console', send_window: { from: '09:00', to: '21:00' } });
  });

  it("shows the API's error about one filter value under the filter's input", async () => {
    const { page } = browser;
    await open('/admin/mailings/create');
    await page.getByLabel('Message text').fill('A tag too long');
    await page.getByLabel('Client tags').fill('x'.repeat(65));
    await page.getByLabel('Client tags').press('Enter');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('.ra-input-filter\\.tag').filter({ hasText: 'value 1 must NOT have more than 64 characters' }).waitFor();
  });

  it("edits a client's tag from the clients list", async () => {
    const { page } = browser;
    const tag = uniqueTag('before');
    const client = await ctx.api.createClient({ tag });
    const newTag = uniqueTag('after');
    await open('/admin/clients');
    await page.getByLabel('Tag (exact)').fill(tag);
    await waitForRows(page, [client.phone_number]);
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByLabel('Tag', { exact: true }).fill(newTag);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/\/admin\/clients(\?.*)?$/);
    assert.deepEqual((await ctx.api.get(`/api/clients/${client.id}/`)).body, { ...client, tag: newTag });
  });

  it('deletes a client from the clients list after a confirmation', async () => {
    const { page } = browser;
    const tag = uniqueTag('delete');
    const client = await ctx.api.createClient({ tag });
    await open('/admin/clients');
    await page.getByLabel('Tag (exact)').fill(tag);
    await waitForRows(page, [client.phone_number]);
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').filter({ hasText: 'Delete this client?' }).waitFor();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await noResults(page);
    assert.equal((await ctx.api.get(`/api/clients/${client.id}/`)).status, 404);
  });

  it('imports clients from a CSV file and lists the rejected rows by line', async () => {
    const { page } = browser;
    const tag = uniqueTag('csv');
    const phone = randomPhone();
    const csv = `phone_number,timezone,tag\n${phone},Europe/Moscow,${tag}\nnot-a-phone,Europe/Moscow,${tag}\n`;

    await open('/admin/clients');
    await page.getByRole('button', { name: 'Import CSV' }).click();
    await page.getByLabel('CSV file').setInputFiles({ name: 'clients.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByTestId('import-result').filter({ hasText: '1 created, 0 updated, 1 rejected.' }).waitFor();
    await page.getByRole('dialog').locator('tbody tr').filter({ hasText: 'phone_number' }).filter({ hasText: /^3/ }).waitFor();
    const imported = await ctx.api.get(`/api/clients/?tag=${encodeURIComponent(tag)}`);
    assert.deepEqual(imported.body.items.map((c: { phone_number: string }) => c.phone_number), [phone]);
    for (const c of imported.body.items) ctx.api.created.clients.add(c.id);
  });

  it(`shows times in the operator's zone (${BROWSER_TIME_ZONE}) and names it`, async () => {
    const { page } = browser;
    const mailing = await ctx.api.createMailing({ start_at: '2099-01-02T07:00:00Z', end_at: '2099-01-02T15:00:00Z' });
    await open(`/admin/mailings/${mailing.id}/show`);
    await page.getByTestId('time-zone').filter({ hasText: `Times in ${BROWSER_TIME_ZONE}` }).waitFor();
    // 07:00 UTC is 12:00 in Yekaterinburg (UTC+5).
    await page.getByText(/2 Jan 2099, 12:00:00 GMT\+5/).first().waitFor();
  });
});
