// signup.mjs signs a new person up through Foyer's pages in a real
// browser (Debian's chromium, driven by playwright-core), as a person
// would: it finds fields by their labels and buttons by their names, never
// by CSS selectors, reads the verification code from the dev mailbox, and
// stops on the app's redirect URI. cmd/foyer/browser_test.go runs it and
// redeems the code at the token endpoint.
//
// Environment:
//   FOYER_AUTH_URL          the authorization URL to open (required)
//   FOYER_MAILBOX_URL       the dev mailbox; ?format=json is added (required)
//   FOYER_SIGNUP_EMAIL      the address to sign up with (required)
//   FOYER_SCREENSHOTS       folder for one full-page PNG per page (required)
//   FOYER_SIGNUP_NAME       display name (default "Browser Tester")
//   FOYER_SIGNUP_PASSWORD   password (default: a random passphrase)
//   FOYER_APP_ORIGIN        the app's origin, answered by a stub page
//                           (default https://app.example)
//   FOYER_CHROMIUM          the browser (default /usr/bin/chromium)
//
// On success it prints {"code": ..., "state": ...} from the final URL as
// one JSON line on stdout and exits 0. On any failure it prints what went
// wrong, where, to stderr, keeps a screenshot named failure.png, and exits
// 1. The whole run is bounded by TOTAL_TIMEOUT_MS.

import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const TOTAL_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 15_000;

function need(name) {
  const v = process.env[name];
  if (!v) fail(`${name} is not set`);
  return v;
}

let step = 'start';
let browser;

function fail(msg) {
  // Playwright colours its call logs; CI logs are plain text.
  process.stderr.write(`signup.mjs: ${step}: ${msg.replace(/\x1b\[[0-9;]*m/g, '')}\n`);
  process.exit(1);
}

const timer = setTimeout(() => {
  process.stderr.write(`signup.mjs: ${step}: gave up after ${TOTAL_TIMEOUT_MS / 1000} s in all\n`);
  // browser.close() could hang too; exiting ends the browser process.
  process.exit(1);
}, TOTAL_TIMEOUT_MS);

const authURL = need('FOYER_AUTH_URL');
const mailboxURL = new URL(need('FOYER_MAILBOX_URL'));
mailboxURL.searchParams.set('format', 'json');
const email = need('FOYER_SIGNUP_EMAIL');
const shots = need('FOYER_SCREENSHOTS');
const displayName = process.env.FOYER_SIGNUP_NAME || 'Browser Tester';
const password = process.env.FOYER_SIGNUP_PASSWORD || `a long browser passphrase ${randomBytes(6).toString('hex')}`;
const appOrigin = new URL(process.env.FOYER_APP_ORIGIN || 'https://app.example').origin;
const executablePath = process.env.FOYER_CHROMIUM || '/usr/bin/chromium';
mkdirSync(shots, { recursive: true });

const escapeHTML = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// The app: the browser has no network, so its redirect URI is answered
// here with a small page saying what it received.
function appPage(u) {
  const q = u.searchParams;
  const rows = [...q.keys()].map((k) => {
    const v = k === 'code' ? `${q.get(k).length} characters` : q.get(k);
    return `<tr><th scope="row">${escapeHTML(k)}</th><td>${escapeHTML(v)}</td></tr>`;
  });
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>App</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}th{text-align:left;padding-right:1rem}</style>
</head><body><h1>App</h1>
<p>Foyer sent the browser back to ${escapeHTML(u.origin + u.pathname)} with:</p>
<table>${rows.join('')}</table></body></html>`;
}

// codeFor polls the mailbox for the newest message to addr with an 8-digit
// code in it.
async function codeFor(addr) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  let last = 'no message yet';
  while (Date.now() < deadline) {
    try {
      const resp = await fetch(mailboxURL, { signal: AbortSignal.timeout(5_000) });
      if (!resp.ok) throw new Error(`${mailboxURL} answered ${resp.status}`);
      const { messages = [] } = await resp.json();
      const m = messages.find((m) => m.to.toLowerCase() === addr.toLowerCase());
      if (m) {
        const c = /\b(\d{8})\b/.exec(m.text);
        if (c) return c[1];
        last = `the message to ${addr} has no 8-digit code: ${JSON.stringify(m.text)}`;
      }
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no code for ${addr} in the mailbox after ${STEP_TIMEOUT_MS / 1000} s (${last})`);
}

let page;

// expectPage waits for a page by its main heading; if it does not come, the
// error says where the browser is instead and what the page says.
async function expectPage(heading) {
  step = `page "${heading}"`;
  try {
    await page.getByRole('heading', { level: 1, name: heading, exact: true }).waitFor();
  } catch (e) {
    throw new Error(`not on it: ${await where()} (${e.message.split('\n')[0]})`);
  }
}

// where tells the page the browser is on: its URL, heading and any alert.
async function where() {
  const h1 = await page.getByRole('heading', { level: 1 }).first().textContent({ timeout: 1_000 }).catch(() => '');
  const alert = await page.getByRole('alert').first().textContent({ timeout: 1_000 }).catch(() => '');
  return `at ${page.url()}, heading ${JSON.stringify(h1)}` + (alert ? `, alert ${JSON.stringify(alert.trim())}` : '');
}

async function shot(name) {
  await page.screenshot({ path: join(shots, name), fullPage: true });
}

try {
  step = 'launch';
  browser = await chromium.launch({
    executablePath,
    headless: true, // adds --headless; Playwright also adds --no-sandbox and a new, empty profile folder
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  // The test server's certificate is self-signed.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 800, height: 700 } });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  await context.route(`${appOrigin}/**`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: appPage(new URL(route.request().url())) }));
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') process.stderr.write(`console ${m.type()} at ${page.url()}: ${m.text()}\n`);
  });
  page.on('pageerror', (e) => process.stderr.write(`page error at ${page.url()}: ${e.message}\n`));

  step = 'open the authorization URL';
  await page.goto(authURL);

  await expectPage('Create your account');
  await page.getByLabel('Email address', { exact: true }).fill(email);
  await shot('01-create-account.png');
  await page.getByRole('button', { name: 'Send code', exact: true }).click();

  await expectPage('Check your email');
  step = 'read the code from the mailbox';
  const code = await codeFor(email);
  step = 'page "Check your email"';
  await page.getByLabel('Verification code', { exact: true }).fill(code);
  await shot('02-check-email.png');
  await page.getByRole('button', { name: 'Verify', exact: true }).click();

  await expectPage('Finish creating your account');
  await page.getByLabel('Display name', { exact: true }).fill(displayName);
  const [given, ...rest] = displayName.split(' ');
  await page.getByLabel('Given name', { exact: true }).fill(given);
  await page.getByLabel('Surname', { exact: true }).fill(rest.join(' ') || given);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await shot('03-finish.png');
  await page.getByRole('button', { name: 'Create account', exact: true }).click();

  step = 'back to the app';
  try {
    await page.waitForURL((u) => u.origin === appOrigin);
  } catch (e) {
    throw new Error(`not sent to ${appOrigin}: ${await where()}`);
  }
  await expectPage('App');
  await shot('04-app.png');
  const final = new URL(page.url());
  const q = final.searchParams;
  if (q.get('error')) throw new Error(`the app got error ${q.get('error')}: ${q.get('error_description')}`);
  if (!q.get('code')) throw new Error(`no code at ${final.origin + final.pathname}`);
  process.stdout.write(JSON.stringify({ code: q.get('code'), state: q.get('state') }) + '\n');
  await browser.close();
  clearTimeout(timer);
} catch (e) {
  if (page) await page.screenshot({ path: join(shots, 'failure.png'), fullPage: true, timeout: 5_000 }).catch(() => {});
  fail(e.message);
}
