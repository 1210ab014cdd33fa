// msal-browser.mjs drives spa.html, a single-page app using Microsoft's
// @azure/msal-browser in its default configuration, in Debian's chromium
// (playwright-core): loginRedirect (msal-browser asks for
// response_mode=fragment), the sign-in on Foyer's page found by labels and
// button names, a silent refresh (acquireTokenSilent with forceRefresh),
// and logoutRedirect back to the app after Foyer's confirmation page.
// cmd/foyer/msal_clients_test.go serves the app and runs this script.
//
// Environment:
//   FOYER_SPA_URL      the app (http://localhost:PORT/) (required)
//   FOYER_EMAIL        the user's address (required)
//   FOYER_PASSWORD     the user's password (required)
//   FOYER_SPKI         base64 SHA-256 of Foyer's certificate's public key:
//                      Chromium trusts that key only (required)
//   FOYER_SCREENSHOTS  folder for one PNG per step (required)
//   FOYER_CHROMIUM     the browser (default /usr/bin/chromium)
//
// On success it prints one JSON line {"login":..., "silent":...,
// "authorizeFragment":bool, "logoutURL":...} on stdout and exits 0; on
// failure it says where on stderr, keeps failure.png, and exits 1.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const TOTAL_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 15_000;

let step = 'start';
function fail(msg) {
  process.stderr.write(`msal-browser.mjs: ${step}: ${msg.replace(/\x1b\[[0-9;]*m/g, '')}\n`);
  process.exit(1);
}
function need(name) {
  const v = process.env[name];
  if (!v) fail(`${name} is not set`);
  return v;
}
const timer = setTimeout(() => {
  process.stderr.write(`msal-browser.mjs: ${step}: gave up after ${TOTAL_TIMEOUT_MS / 1000} s in all\n`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS);

const spaURL = new URL(need('FOYER_SPA_URL'));
const email = need('FOYER_EMAIL');
const password = need('FOYER_PASSWORD');
const spki = need('FOYER_SPKI');
const shots = need('FOYER_SCREENSHOTS');
const executablePath = process.env.FOYER_CHROMIUM || '/usr/bin/chromium';
mkdirSync(shots, { recursive: true });

let browser, page;

const started = Date.now();
async function heading(name) {
  step = `heading "${name}"`;
  process.stderr.write(`msal-browser.mjs: ${Date.now() - started} ms: waiting for heading "${name}"\n`);
  try {
    await page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
  } catch (e) {
    const h1 = await page.getByRole('heading', { level: 1 }).first().textContent({ timeout: 1_000 }).catch(() => '');
    throw new Error(`not there: at ${page.url()}, heading ${JSON.stringify(h1)}`);
  }
}

async function result(want) {
  const r = JSON.parse(await page.locator('#result').textContent());
  if (r.step !== want) throw new Error(`the app's last result is ${r.step}, want ${want}`);
  return r;
}

const shot = (name) => page.screenshot({ path: join(shots, name), fullPage: true });

try {
  step = 'launch';
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Foyer's test certificate is self-signed: trust its key, and only it.
      `--ignore-certificate-errors-spki-list=${spki}`,
    ],
  });
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') process.stderr.write(`console ${m.type()} at ${page.url()}: ${m.text()}\n`);
  });
  page.on('pageerror', (e) => process.stderr.write(`page error at ${page.url()}: ${e.message}\n`));
  // The app's URL when Foyer sends the browser back, fragment included.
  const arrivals = [];
  // Every page the browser asked Foyer for, to show what MSAL sent.
  const toFoyer = [];
  page.on('request', (r) => {
    if (r.isNavigationRequest() && new URL(r.url()).origin !== spaURL.origin) toFoyer.push(r.url());
  });
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame() && new URL(f.url()).origin === spaURL.origin) arrivals.push(f.url());
  });

  step = 'open the app';
  await page.goto(spaURL.href);
  await heading('Signed out');
  await shot('msal-01-app.png');

  step = 'loginRedirect';
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await heading('Sign in');
  const authorizeURL = toFoyer.find((u) => new URL(u).pathname.endsWith('/authorize'));
  await page.getByLabel('Email address', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await shot('msal-02-foyer-sign-in.png');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await heading('Signed in');
  await shot('msal-03-signed-in.png');
  const login = await result('login');
  const back = arrivals.find((u) => u.includes('code='));
  if (!back) throw new Error(`Foyer never sent a code to the app: ${JSON.stringify(arrivals)}`);
  const authorizeFragment = new URL(back).hash.includes('code=') && !new URL(back).search.includes('code=');

  step = 'acquireTokenSilent';
  await page.getByRole('button', { name: 'Refresh the token', exact: true }).click();
  await heading('Token refreshed');
  const silent = await result('silent');

  step = 'logoutRedirect';
  arrivals.length = 0;
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await heading('Sign out?');
  await shot('msal-04-foyer-sign-out.png');
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await heading('Signed out');
  await shot('msal-05-signed-out.png');
  if (!arrivals.some((u) => new URL(u).origin === spaURL.origin)) throw new Error('logout did not come back to the app');
  const logoutURL = toFoyer.find((u) => new URL(u).pathname.endsWith('/end_session'));

  process.stdout.write(JSON.stringify({ login, silent, authorizeFragment, authorizeURL, logoutURL, back: page.url() }) + '\n');
  await browser.close();
  clearTimeout(timer);
} catch (e) {
  if (page) await page.screenshot({ path: join(shots, 'msal-failure.png'), fullPage: true, timeout: 5_000 }).catch(() => {});
  fail(e.message);
}
