import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import type { Role } from '../../domain/roles';
import { startFakeProvider, type FakeProvider } from '../../stack/fake-provider';
import { randomPhone, uniqueTag, useApi } from '../support/api';
import { createClientAndMailing, useBrowser } from '../support/browser';
import { useSignInApi } from '../support/sign-in';
import { startWorker, type RunningWorker } from '../support/worker';

/**
 * Signing in to the console through the development identity provider (stack/sign-in/dev-identity-provider.ts)
 * in a real browser: the API and the provider are two sites, as in production.
 */
describe('admin console sign-in in Chromium', function () {
  this.timeout(120_000);
  const taskQueue = `admin-sign-in-${randomUUID().slice(0, 8)}`;
  const ctx = useSignInApi({ taskQueue });
  const browser = useBrowser();
  let provider: FakeProvider;
  let worker: RunningWorker;

  before(async () => {
    // Each answer takes seconds, so the dashboard sees the mailing running before it finishes.
    provider = await startFakeProvider({ seed: 1 });
    provider.setFaults({ latencyMs: 3000 });
    worker = await startWorker({ taskQueue, providerUrl: provider.url, mailings: ctx.mailings, policy: { requestTimeoutMs: 10_000 } });
  });
  after(async () => {
    await worker?.stop();
    await provider?.stop();
  });

  /** Opens `path` of the console; not signed in, the browser lands on the provider's form and signs in there. */
  async function signIn(page: Page, role: Role, path: string): Promise<void> {
    await page.goto(new URL(path, ctx.publicUrl).href);
    await page.waitForURL((url) => url.href.startsWith(ctx.idp.issuer));
    const user = ctx.idp.users[role];
    await page.getByLabel('Login').fill(user.login);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(new URL(path, ctx.publicUrl).href);
  }

  /** The user menu names who is signed in, and the role. */
  const signedInAs = (page: Page, text: string) => page.getByRole('button', { name: 'Profile' }).filter({ hasText: text }).waitFor();

  it('signs in through the provider, creates a client and a mailing, watches it finish on the dashboard, and signs out', async () => {
    const { page } = browser;
    const tag = uniqueTag('signed-in');
    await signIn(page, 'operator', '/admin/clients/create');
    await signedInAs(page, '(operator)');

    const id = await createClientAndMailing(page, { phone: randomPhone(), tag, text: 'Created by a signed-in operator' });
    ctx.api.created.mailings.add(id);

    await page.getByRole('menuitem', { name: 'Dashboard' }).click();
    await page.locator(`[data-testid=running] [data-mailing-id="${id}"]`).waitFor();
    await page.locator(`[data-testid=ended] [data-mailing-id="${id}"]`).filter({ hasText: 'finished' }).filter({ hasText: '1 sent' }).waitFor({ timeout: 60_000 });

    // The browser's own cookies, as the console sends them.
    const me = async () => (await page.context().request.get(`${ctx.publicUrl}/auth/me`)).status();
    assert.equal(await me(), 200);
    await page.getByRole('button', { name: 'Profile' }).click();
    await page.getByRole('menuitem', { name: 'Logout' }).click();
    // Signed out at the provider too: coming back to the console asks for the password again.
    await page.waitForURL((url) => url.href.startsWith(ctx.idp.issuer) && url.pathname.startsWith('/interaction/'));
    await page.getByLabel('Password').waitFor();
    assert.equal(await me(), 401);
  });

  it('shows a viewer no button that writes', async () => {
    const { page } = browser;
    const mailing = await ctx.api.createMailing();
    const client = await ctx.api.createClient();
    await signIn(page, 'viewer', `/admin/mailings/${mailing.id}/show`);
    await signedInAs(page, '(viewer)');
    await page.getByText('Statistics').waitFor();
    for (const name of ['Edit', 'Pause', 'Delete']) assert.equal(await page.getByRole('button', { name }).count(), 0, `${name} on a mailing's page`);
    assert.equal(await page.getByRole('link', { name: 'Edit' }).count(), 0);

    await page.getByRole('menuitem', { name: 'Mailings' }).click();
    await page.locator('table tbody tr').first().waitFor();
    assert.equal(await page.getByRole('link', { name: 'New mailing' }).count(), 0);

    await page.getByRole('menuitem', { name: 'Clients' }).click();
    await page.locator('table tbody tr').filter({ hasText: client.phone_number }).waitFor();
    await page.getByRole('link', { name: 'Export CSV' }).waitFor();
    for (const name of ['New client', 'Import CSV', 'Edit', 'Delete']) {
      assert.equal(await page.getByRole('button', { name }).or(page.getByRole('link', { name })).count(), 0, `${name} on the clients list`);
    }
  });

  it("has the API refuse a viewer's write with 403 even when the console is bypassed", async () => {
    const { page } = browser;
    await signIn(page, 'viewer', '/admin/clients');
    await signedInAs(page, '(viewer)');
    const answer = await page.evaluate(async (phone) => {
      const res = await fetch('/api/clients/', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'XMLHttpRequest' },
        body: JSON.stringify({ phone_number: phone, timezone: 'Europe/Moscow' }),
      });
      return { status: res.status, type: res.headers.get('content-type') };
    }, randomPhone());
    assert.equal(answer.status, 403);
    assert.match(answer.type ?? '', /^application\/problem\+json/);
  });
});

describe('admin console of an API that takes API keys only, in Chromium', function () {
  this.timeout(120_000);
  const ctx = useApi();
  const browser = useBrowser();

  it('says that signing in is not set up, instead of showing the API\'s answer', async () => {
    const { page } = browser;
    await page.goto(new URL('/admin/mailings', ctx.api.baseUrl).href);
    await page.getByTestId('sign-in-unavailable').filter({ hasText: 'Signing in is not set up on this server' }).waitFor();
    assert.match(page.url(), /\/admin\/login$/);
  });
});
