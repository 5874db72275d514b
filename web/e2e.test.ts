// The web app end to end, in a real Chromium (Debian's, driven by playwright-core) against real API,
// worker, bank and SMS simulator processes: the app built in web/dist and served by the API at /.
// A phone (360×800, touch) and a desktop (1280×800) each run one user's session, as people would: sign
// up with the SMS code, add money through the bank's page and back, send money with a confirmation code
// while the recipient's open page updates live, withdraw, page through 200 transactions, download a
// statement and check its sums, go offline and back. Every screen is checked with axe-core (no serious
// or critical violation) and for horizontal scrolling; phone screenshots go to docs/screenshots/.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { fundWalletForTesting } from '../db/test-funding';
import { freePort } from '../system/ports';
import { graphql, latestCode, randomPhone, readCode, sendMoneyMutation, signUpUser, walletOf, type TestUser } from '../test/client';
import { startTestSystem, type TestSystem } from '../test/system';

const root = path.resolve(__dirname, '..');
const screenshots = path.join(root, 'docs', 'screenshots');
const phone = { viewport: { width: 360, height: 800 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const desktop = { viewport: { width: 1280, height: 800 } };
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let system: TestSystem;
let browser: Browser;
let appUrl: string;
const contexts: BrowserContext[] = [];
const cspViolations: string[] = [];
const axeFindings: string[] = [];

jest.setTimeout(300_000);

beforeAll(async () => {
  if (!existsSync(path.join(__dirname, 'dist', 'index.html'))) throw new Error('web/dist is missing: run bash scripts/build-web.sh (npm test does)');
  const executablePath = execFileSync('bash', [path.join(root, 'scripts', 'ensure-chromium.sh')], { encoding: 'utf8' }).trim();
  // The bank's page sends the browser back to the app, which is the API's own origin: its port is chosen here.
  const port = await freePort();
  appUrl = `http://127.0.0.1:${port}`;
  system = await startTestSystem({
    bankSim: true,
    // The first payment to a new payee asks for the SMS code, as in production.
    env: { API_PORT: String(port), WEB_APP_URL: `${appUrl}/`, STEP_UP_NEW_PAYEE: 'true' },
  });
  browser = await chromium.launch({ executablePath, args: chromiumArgs, headless: true });
  mkdirSync(screenshots, { recursive: true });
});

afterEach(async () => {
  // A failed offline test must not leave the next ones offline.
  for (const context of contexts) await context.setOffline(false).catch(() => {});
});

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await system?.stop();
});

async function open(options: object): Promise<Page> {
  const context = await browser.newContext({ ...options, baseURL: appUrl, acceptDownloads: true, locale: 'en-IN', timezoneId: 'Asia/Kolkata' });
  contexts.push(context);
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  return page;
}

/** axe-core on the screen as it is, the page's width, and (on the phone) a screenshot. */
async function check(page: Page, name: string, options: { screenshot?: boolean } = {}): Promise<void> {
  await page.waitForLoadState('networkidle').catch(() => {});
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  for (const violation of results.violations) {
    if (violation.impact === 'serious' || violation.impact === 'critical') {
      axeFindings.push(`${name}: ${violation.id} (${violation.impact}) ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`);
    }
  }
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect({ screen: name, horizontalOverflowPx: overflow }).toEqual({ screen: name, horizontalOverflowPx: 0 });
  if (options.screenshot) await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
}

const balanceOf = (page: Page) => page.getByTestId('balance');

async function signUpInBrowser(page: Page, name: string): Promise<string> {
  const phoneNumber = randomPhone();
  await page.goto('/signup');
  await check(page, 'sign-up', { screenshot: true });
  const previous = await latestCode(system.smsSimUrl, phoneNumber);
  await page.getByLabel('Phone number').fill(phoneNumber);
  await page.getByRole('button', { name: 'Send code' }).click();
  const code = await readCode(system.smsSimUrl, phoneNumber, previous);
  await page.getByLabel('Code from the SMS').fill(code);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Password').fill('correct horse battery');
  await check(page, 'sign-up-code');
  await page.getByRole('button', { name: 'Create account' }).click();
  await visible(balanceOf(page).getByText('₹0.00'));
  return phoneNumber;
}

/** Waits for a locator to show (Playwright's own expect is not this runner's). */
const visible = (locator: Locator, timeout = 20_000) => locator.first().waitFor({ state: 'visible', timeout });

describe('the web app in Chromium', () => {
  let asha: Page;
  let ravi: Page;
  let ashaPhone: string;
  let raviUser: TestUser;

  test('serving | / and a client route | the shell with a strict CSP, the manifest and the service worker', async () => {
    for (const route of ['/', '/activity', '/add-money/return?transaction=x']) {
      const response = await fetch(`${appUrl}${route}`, { headers: { accept: 'text/html' } });
      expect(response.status).toBe(200);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("default-src 'none'");
      expect(csp).not.toContain('unsafe-inline');
      const html = await response.text();
      // No inline script: every <script> has a src.
      expect(html.match(/<script(?![^>]*\ssrc=)[^>]*>/g)).toBeNull();
    }
    expect((await fetch(`${appUrl}/manifest.webmanifest`)).status).toBe(200);
    expect((await fetch(`${appUrl}/sw.js`)).headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${appUrl}/healthz`)).status).toBe(200);
  });

  test('sign up on a phone and sign in on a desktop | both see their empty wallets', async () => {
    asha = await open(phone);
    await asha.goto('/');
    await check(asha, 'sign-in', { screenshot: true });
    ashaPhone = await signUpInBrowser(asha, 'Asha Verma');
    await check(asha, 'home-empty');

    raviUser = await signUpUser(system.graphqlUrl, 'Ravi Kumar');
    ravi = await open(desktop);
    await ravi.goto('/');
    await ravi.getByLabel('Phone number').fill(raviUser.phone);
    await ravi.getByLabel('Password').fill('a wrong password');
    await ravi.getByRole('button', { name: 'Sign in' }).click();
    await visible(ravi.getByRole('alert').getByText('That phone number and password do not match'));
    await ravi.getByLabel('Password').fill('correct horse battery');
    await ravi.getByRole('button', { name: 'Sign in' }).click();
    await visible(balanceOf(ravi).getByText('₹0.00'));
    await check(ravi, 'desktop-home');
  });

  test('add money | to the bank page, approve, back to the app | the payment completes and the balance shows it', async () => {
    await asha.goto('/add-money');
    await check(asha, 'add-money', { screenshot: true });
    await asha.getByLabel('Amount (₹)').fill('1,500.50');
    await asha.getByRole('button', { name: 'Continue to the bank' }).click();
    await asha.waitForURL(/\/v1\/payments\/|netbanking|\/pay/i, { timeout: 20_000 }).catch(() => {});
    expect(new URL(asha.url()).origin).toBe(system.bankSimUrl);
    await asha.getByRole('button', { name: 'Approve' }).click();
    await asha.waitForURL(/\/add-money\/return\?transaction=.*&payment=.*&status=succeeded/, { timeout: 20_000 });
    await visible(asha.locator('[data-testid="outcome"][data-status="COMPLETED"]'));
    await check(asha, 'add-money-return', { screenshot: true });
    await asha.getByRole('link', { name: 'Home' }).first().click();
    await visible(balanceOf(asha).getByText('₹1,500.50'));
  });

  test('send money | payee name shown, review, SMS confirmation | the recipient’s open page updates live', async () => {
    await ravi.goto('/');
    await visible(balanceOf(ravi).getByText('₹0.00'));
    await asha.getByRole('link', { name: 'Send' }).click();
    await asha.getByLabel("Recipient's phone number").fill(raviUser.phone);
    await asha.getByLabel('Amount (₹)').fill('120.5');
    await asha.getByLabel('Note (optional)').fill('lunch');
    await check(asha, 'send', { screenshot: true });
    await asha.getByRole('button', { name: 'Continue' }).click();
    await visible(asha.getByTestId('payee-name').getByText('R*** K****'));
    await check(asha, 'send-review', { screenshot: true });
    const previous = await latestCode(system.smsSimUrl, ashaPhone);
    await asha.getByRole('button', { name: 'Pay ₹120.50' }).click();
    // The first payment to a new payee waits for the code sent to the payer's phone.
    await visible(asha.getByLabel('Confirmation code'));
    await check(asha, 'send-confirm', { screenshot: true });
    await asha.getByLabel('Confirmation code').fill('000000');
    await asha.getByRole('button', { name: 'Confirm payment' }).click();
    await visible(asha.getByRole('alert').getByText('That code is not right. 2 tries left.'));
    await asha.getByLabel('Confirmation code').fill(await readCode(system.smsSimUrl, ashaPhone, previous));
    await asha.getByRole('button', { name: 'Confirm payment' }).click();
    await visible(asha.locator('[data-testid="outcome"][data-status="COMPLETED"]'));
    // Ravi never reloaded: the wallet and the activity came over the subscription.
    await visible(balanceOf(ravi).getByText('₹120.50'));
    await visible(ravi.getByTestId('recent').getByText('From Asha Verma'));
    await ravi.screenshot({ path: path.join(screenshots, 'desktop-home-live.png') });
  });

  test('withdraw | to a bank account | held, then paid out; the balance follows', async () => {
    await asha.goto('/withdraw');
    await check(asha, 'withdraw', { screenshot: true });
    await asha.getByLabel('Amount (₹)').fill('100');
    await asha.getByLabel('Account number').fill('000123456789');
    await asha.getByRole('button', { name: 'Withdraw' }).click();
    await visible(asha.locator('[data-testid="outcome"][data-status="COMPLETED"]'), 30_000);
    await asha.getByRole('link', { name: 'Home' }).first().click();
    await visible(balanceOf(asha).getByText('₹1,280.00'));
    await check(asha, 'home', { screenshot: true });
  });

  test('activity | 200 more transactions | infinite scroll pages through every one, once each; filters and details work', async () => {
    const meera = await signUpUser(system.graphqlUrl, 'Meera Payer');
    await fundWalletForTesting(system.pool, meera.id, 1_000_000n);
    // Meera's first payment to Ravi is confirmed with her SMS code; the next 199 go straight through.
    const previous = await latestCode(system.smsSimUrl, meera.phone);
    const first = await graphql(system.graphqlUrl, sendMoneyMutation, { input: { toPhone: raviUser.phone, amount: '100', idempotencyKey: 'bulk-0' } }, meera.token);
    const confirmed = await graphql(system.graphqlUrl, `mutation($id: ID!, $code: String!) { confirmTransaction(id: $id, code: $code) { status } }`,
      { id: first.data.sendMoney.id, code: await readCode(system.smsSimUrl, meera.phone, previous) }, meera.token);
    expect(confirmed.data.confirmTransaction.status).toBe('COMPLETED');
    for (let start = 1; start < 200; start += 20) {
      const answers = await Promise.all(Array.from({ length: Math.min(20, 200 - start) }, (_, index) =>
        graphql(system.graphqlUrl, sendMoneyMutation, { input: { toPhone: raviUser.phone, amount: '100', idempotencyKey: `bulk-${start + index}` } }, meera.token)));
      expect(answers.flatMap((answer) => answer.errors ?? [])).toEqual([]);
    }
    // On a busy machine the last transfers may complete well after their mutations answered.
    for (const deadline = Date.now() + 240_000; (await walletOf(system.graphqlUrl, raviUser.token)).available !== 32_050n;) {
      if (Date.now() > deadline) throw new Error('the 200 transfers did not all complete within 4 minutes');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await visible(balanceOf(ravi).getByText('₹320.50'), 30_000);
    await ravi.getByRole('link', { name: 'Activity', exact: true }).click();
    const rows = ravi.getByTestId('activity').locator('li');
    await visible(rows);
    // Scroll to the end until the list says it has everything: 201 transfers in.
    for (let tries = 0; tries < 40 && !(await ravi.getByTestId('activity-end').isVisible()); tries++) {
      await ravi.getByTestId('activity').locator('li').last().scrollIntoViewIfNeeded();
      await ravi.waitForTimeout(250);
    }
    await visible(ravi.getByTestId('activity-end').getByText('That is everything (201)'));
    const links = await rows.locator('a').evaluateAll((anchors) => anchors.map((anchor) => anchor.getAttribute('href')));
    expect(new Set(links).size).toBe(201);
    await ravi.getByLabel('Kind').selectOption('ON_RAMP');
    await visible(ravi.getByText('Nothing here yet.'));
    await ravi.getByLabel('Kind').selectOption('');

    await asha.getByRole('link', { name: 'Activity', exact: true }).click();
    await visible(asha.getByTestId('activity').getByText('To Ravi Kumar', { exact: false }));
    await check(asha, 'activity', { screenshot: true });
    await asha.getByTestId('activity').getByText('Withdrawal', { exact: false }).first().click();
    await visible(asha.locator('[data-testid="detail"][data-status="COMPLETED"]'));
    await visible(asha.getByTestId('timeline').getByText('Completed'));
    await check(asha, 'transaction-detail', { screenshot: true });
  });

  test('statement | this month as CSV | its lines add up to the closing balance; the printable page shows the same', async () => {
    await asha.goto('/statement');
    await visible(asha.getByTestId('statement-summary').getByText('₹1,280.00'));
    await check(asha, 'statement', { screenshot: true });
    const [download] = await Promise.all([asha.waitForEvent('download'), asha.getByRole('button', { name: 'Download CSV' }).click()]);
    const csv = readFileSync((await download.path())!, 'utf8').trim().split(/\r\n/).map((line) => line.split(','));
    expect(csv[0]).toEqual(['Date', 'Description', 'Kind', 'Note', 'Money in (INR)', 'Money out (INR)', 'Balance (INR)', 'Reference']);
    const paise = (value: string | undefined) => (value ? BigInt(value.replace('.', '')) : 0n);
    const lines = csv.slice(2, -1);
    const moneyIn = lines.reduce((sum, line) => sum + paise(line[4]), 0n);
    const moneyOut = lines.reduce((sum, line) => sum + paise(line[5]), 0n);
    expect([csv[1]![6], moneyIn, moneyOut]).toEqual(['0.00', 150_050n, 12_050n + 10_000n]);
    expect(csv.at(-1)!.slice(4, 7)).toEqual(['1500.50', '220.50', '1280.00']);
    expect(lines.at(-1)![6]).toBe('1280.00');
    await asha.emulateMedia({ media: 'print' });
    expect(await asha.getByRole('navigation', { name: 'Main' }).isVisible()).toBe(false);
    await asha.emulateMedia({ media: 'screen' });
  });

  test('insights and settings | the analytics figures and the chart; sessions and two-factor', async () => {
    await asha.goto('/insights');
    await visible(asha.getByTestId('totals').getByText('₹1,500.50'));
    await visible(asha.locator('.chart canvas'));
    await visible(asha.getByTestId('top-payees').getByText('Ravi Kumar'));
    await check(asha, 'insights', { screenshot: true });
    await asha.getByRole('link', { name: 'Settings' }).click();
    await visible(asha.getByTestId('sessions').getByText('This device'));
    await check(asha, 'settings', { screenshot: true });
    await asha.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await visible(asha.getByTestId('totp-secret'));
    await check(asha, 'settings-two-factor');
  });

  test('offline and back | the app says so, and a payment made meanwhile shows once it is back', async () => {
    await asha.goto('/');
    await visible(balanceOf(asha).getByText('₹1,280.00'));
    // The service worker controls the page once installed (it claims open pages).
    await asha.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 20_000 });
    await asha.context().setOffline(true);
    await visible(asha.getByTestId('connection').getByText('You are offline'));
    await visible(balanceOf(asha).getByText('it may have changed'));
    await asha.screenshot({ path: path.join(screenshots, 'offline.png') });
    // A payment arrives while the page is offline: once back, the stream resumes after the last event seen.
    // Ravi's first payment to Asha: confirmed with the code sent to his phone.
    const previous = await latestCode(system.smsSimUrl, raviUser.phone);
    const sent = await graphql(system.graphqlUrl, sendMoneyMutation, { input: { toPhone: ashaPhone, amount: '500', idempotencyKey: 'while-offline' } }, raviUser.token);
    expect(sent.data.sendMoney.status).toBe('AWAITING_CONFIRMATION');
    const confirmed = await graphql(system.graphqlUrl, `mutation($id: ID!, $code: String!) { confirmTransaction(id: $id, code: $code) { status } }`,
      { id: sent.data.sendMoney.id, code: await readCode(system.smsSimUrl, raviUser.phone, previous) }, raviUser.token);
    expect(confirmed.data.confirmTransaction.status).toBe('COMPLETED');
    await asha.waitForTimeout(500);
    await visible(balanceOf(asha).getByText('₹1,280.00'));
    await asha.context().setOffline(false);
    await visible(balanceOf(asha).getByText('₹1,285.00'), 30_000);
    await visible(asha.getByTestId('recent').getByText('₹5.00'));
    // The shell opens offline (service worker), with no balance it did not read from the server.
    await asha.context().setOffline(true);
    await asha.reload();
    await visible(asha.getByTestId('connection').getByText('You are offline'));
    expect(await balanceOf(asha).textContent()).not.toContain('₹');
    await asha.context().setOffline(false);
    await visible(balanceOf(asha).getByText('₹1,285.00'), 30_000);
    expect(await asha.getByTestId('connection').textContent()).toBe('');
  });

  test('sign out | back to sign in, and the old page cannot act', async () => {
    await asha.goto('/settings');
    await asha.getByRole('button', { name: 'Sign out' }).first().click();
    await visible(asha.getByRole('heading', { name: 'Sign in' }));
    expect(await asha.evaluate(() => sessionStorage.length)).toBe(0);
  });

  test('along the way | no CSP violation, no serious or critical axe finding', () => {
    expect(cspViolations).toEqual([]);
    expect(axeFindings).toEqual([]);
  });
});
