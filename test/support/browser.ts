import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureAdminBuilt } from '../../stack/admin-build';
import { CHROMIUM, systemProgram } from '../../stack/tools/system-programs';

/** Where every browser test leaves its screenshot (gitignored): test/browser/screenshots/<test>.png. */
export const SCREENSHOTS = path.join(__dirname, '..', 'browser', 'screenshots');

/** The operator's zone in these tests: not the machine's, so that local times are really converted. */
export const BROWSER_TIME_ZONE = 'Asia/Yekaterinburg';

export interface BrowserContextHolder {
  page: Page;
}

/**
 * Call inside a `describe`: Debian's Chromium (headless, driven by playwright-core) with a fresh
 * context and page per test, the admin console built if it is stale, and a full-page screenshot of
 * every test, passed or failed, named after it.
 */
export function useBrowser(): BrowserContextHolder {
  const holder = {} as BrowserContextHolder;
  let browser: Browser;
  let context: BrowserContext;
  let pageErrors: string[] = [];
  before(async function () {
    this.timeout(120_000);
    await ensureAdminBuilt();
    await mkdir(SCREENSHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: await systemProgram(CHROMIUM), args: ['--no-sandbox'], headless: true });
  });
  beforeEach(async () => {
    context = await browser.newContext({ timezoneId: BROWSER_TIME_ZONE, locale: 'en-GB', viewport: { width: 1280, height: 900 } });
    holder.page = await context.newPage();
    holder.page.setDefaultTimeout(20_000);
    pageErrors = [];
    holder.page.on('pageerror', (error) => pageErrors.push(String(error)));
    holder.page.on('console', (message) => message.type() === 'error' && pageErrors.push(message.text()));
  });
  afterEach(async function () {
    // What the page itself complained of explains most failures better than a timeout does.
    if (this.currentTest?.state === 'failed' && pageErrors.length) console.error(`errors in the page:\n${pageErrors.join('\n')}`);
    const name = this.currentTest!.fullTitle().replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 120);
    await holder.page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true }).catch(() => undefined);
    await context.close();
  });
  after(async () => {
    await browser?.close();
  });
  return holder;
}

/**
 * Through the console, from the page that creates a client: a client with `phone` and `tag`, then a
 * mailing of `text` to that tag (once the audience preview counts the client); the mailing's id.
 */
export async function createClientAndMailing(page: Page, { phone, tag, text }: { phone: string; tag: string; text: string }): Promise<number> {
  await page.getByLabel('Phone number').fill(phone);
  await page.getByLabel('Tag', { exact: true }).fill(tag);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(/\/admin\/clients$/);

  await page.getByRole('menuitem', { name: 'Mailings' }).click();
  await page.getByRole('link', { name: 'New mailing' }).click();
  await page.getByLabel('Message text').fill(text);
  await page.getByLabel('Client tags').fill(tag);
  await page.getByLabel('Client tags').press('Enter');
  await page.getByTestId('audience-preview').filter({ hasText: '1 client matches this filter now' }).waitFor();
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(/\/admin\/mailings\/\d+\/show$/);
  return Number(/mailings\/(\d+)\/show/.exec(page.url())![1]);
}
