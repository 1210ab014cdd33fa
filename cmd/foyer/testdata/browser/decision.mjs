// decision.mjs walks rows 4 and 5 of Foyer's sign-up decision table
// (DESIGN.md section 2) in a real browser (Debian's chromium, driven by
// playwright-core), as a person would: fields by their labels, buttons and
// links by their names, never CSS selectors. cmd/foyer/browser_test.go
// (TestBrowserDecisionTable) runs it and redeems the codes it prints.
//
//   row 4, "link": a person with an account opens a sign-up
//     (prompt=create), follows "I already have an account", signs in, and
//     lands on the app with a code;
//   row 4, "mail": the same person types their address on the sign-up
//     page, follows the sign-in link of the "you already have an account"
//     mail from the dev mailbox, signs in, and lands on the app;
//   row 5, "new": a new address of a domain whose organisation does not let
//     people join (J=false) is refused right after the code, on a page that
//     asks for no name and no password.
//
// Environment (all required but FOYER_APP_ORIGIN and FOYER_CHROMIUM):
//   FOYER_AUTH_URL_LINK, FOYER_AUTH_URL_MAIL, FOYER_AUTH_URL_NEW
//                           one authorization URL (prompt=create) per walk
//   FOYER_MAILBOX_URL       the dev mailbox; ?format=json is added
//   FOYER_EXISTING_EMAIL, FOYER_EXISTING_PASSWORD   the person of row 4
//   FOYER_NEW_EMAIL         the new address of row 5
//   FOYER_SCREENSHOTS       folder for one full-page PNG per page
//   FOYER_APP_ORIGIN        the app's origin, answered by a stub page
//                           (default https://app.example)
//   FOYER_CHROMIUM          the browser (default /usr/bin/chromium)
//
// On success it prints one JSON line on stdout,
//   {"link": {"code", "state"}, "mail": {"code", "state"},
//    "new": {"heading", "fields", "text"}} (the refusal page's heading,
//   how many fields it has, and its text)
// and exits 0. On any failure it prints what went wrong, where, to stderr,
// keeps a screenshot named failure.png, and exits 1. The whole run is
// bounded by TOTAL_TIMEOUT_MS.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const TOTAL_TIMEOUT_MS = 75_000;
const STEP_TIMEOUT_MS = 15_000;

let step = 'start';
let browser;
let page;

function fail(msg) {
  process.stderr.write(`decision.mjs: ${step}: ${msg.replace(/\x1b\[[0-9;]*m/g, '')}\n`);
  process.exit(1);
}

function need(name) {
  const v = process.env[name];
  if (!v) fail(`${name} is not set`);
  return v;
}

const timer = setTimeout(() => {
  process.stderr.write(`decision.mjs: ${step}: gave up after ${TOTAL_TIMEOUT_MS / 1000} s in all\n`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS);

const authURLs = { link: need('FOYER_AUTH_URL_LINK'), mail: need('FOYER_AUTH_URL_MAIL'), new: need('FOYER_AUTH_URL_NEW') };
const mailboxURL = new URL(need('FOYER_MAILBOX_URL'));
mailboxURL.searchParams.set('format', 'json');
const existing = need('FOYER_EXISTING_EMAIL');
const existingPassword = need('FOYER_EXISTING_PASSWORD');
const newcomer = need('FOYER_NEW_EMAIL');
const shots = need('FOYER_SCREENSHOTS');
const appOrigin = new URL(process.env.FOYER_APP_ORIGIN || 'https://app.example').origin;
const executablePath = process.env.FOYER_CHROMIUM || '/usr/bin/chromium';
mkdirSync(shots, { recursive: true });

const escapeHTML = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// The app: the browser has no network, so its redirect URI is answered
// here with a small page.
function appPage(u) {
  const keys = [...u.searchParams.keys()].map(escapeHTML).join(', ');
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>App</title></head>
<body><h1>App</h1><p>Foyer sent the browser back with: ${keys}</p></body></html>`;
}

// mailTo polls the mailbox for the newest message to addr that matches re
// and returns the match.
async function mailTo(addr, re, what) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  let last = 'no message yet';
  while (Date.now() < deadline) {
    try {
      const resp = await fetch(mailboxURL, { signal: AbortSignal.timeout(5_000) });
      if (!resp.ok) throw new Error(`${mailboxURL} answered ${resp.status}`);
      const { messages = [] } = await resp.json();
      const m = messages.find((m) => m.to.toLowerCase() === addr.toLowerCase());
      if (m) {
        const x = re.exec(m.text);
        if (x) return x[1];
        last = `the message to ${addr} has no ${what}: ${JSON.stringify(m.text)}`;
      }
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no ${what} for ${addr} in the mailbox after ${STEP_TIMEOUT_MS / 1000} s (${last})`);
}

async function where() {
  const h1 = await page.getByRole('heading', { level: 1 }).first().textContent({ timeout: 1_000 }).catch(() => '');
  const alert = await page.getByRole('alert').first().textContent({ timeout: 1_000 }).catch(() => '');
  return `at ${page.url()}, heading ${JSON.stringify(h1)}` + (alert ? `, alert ${JSON.stringify(alert.trim())}` : '');
}

async function expectPage(heading) {
  step = `${walk}: page "${heading}"`;
  try {
    await page.getByRole('heading', { level: 1, name: heading, exact: true }).waitFor();
  } catch (e) {
    throw new Error(`not on it: ${await where()} (${e.message.split('\n')[0]})`);
  }
}

async function shot(name) {
  await page.screenshot({ path: join(shots, name), fullPage: true });
}

// signIn fills the sign-in form and follows the browser to the app
// (accepting the consent page when one comes), returning code and state.
async function signInToApp(prefix) {
  await expectPage('Sign in');
  await page.getByLabel('Email address', { exact: true }).fill(existing);
  await page.getByLabel('Password', { exact: true }).fill(existingPassword);
  await shot(`${prefix}-sign-in.png`);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  step = `${walk}: back to the app`;
  await page.waitForURL((u) => u.origin === appOrigin || /\/consent\b/.test(u.pathname));
  if (new URL(page.url()).origin !== appOrigin) {
    await expectPage('Allow access?');
    await page.getByRole('button', { name: /^(Accept|Allow)/ }).click();
    await page.waitForURL((u) => u.origin === appOrigin).catch(async () => {
      throw new Error(`not sent to ${appOrigin}: ${await where()}`);
    });
  }
  await expectPage('App');
  await shot(`${prefix}-app.png`);
  const q = new URL(page.url()).searchParams;
  if (q.get('error')) throw new Error(`the app got error ${q.get('error')}: ${q.get('error_description')}`);
  if (!q.get('code')) throw new Error('no code');
  return { code: q.get('code'), state: q.get('state') };
}

let walk = 'launch';
try {
  step = 'launch';
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const out = {};
  // One browser profile per walk: nobody is signed in, no cookie is shared.
  for (const w of ['link', 'mail', 'new']) {
    walk = w;
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 800, height: 700 } });
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
    await context.route(`${appOrigin}/**`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: appPage(new URL(route.request().url())) }));
    page = await context.newPage();
    page.on('pageerror', (e) => process.stderr.write(`page error at ${page.url()}: ${e.message}\n`));
    step = `${w}: open the authorization URL`;
    await page.goto(authURLs[w]);
    await expectPage('Create your account');

    if (w === 'link') {
      await shot('row4-link-1-create-account.png');
      await page.getByRole('link', { name: 'I already have an account', exact: true }).click();
      out.link = await signInToApp('row4-link-2');
    } else if (w === 'mail') {
      await page.getByLabel('Email address', { exact: true }).fill(existing);
      await page.getByRole('button', { name: 'Send code', exact: true }).click();
      await expectPage('Check your email');
      await shot('row4-mail-1-check-email.png');
      step = 'mail: read the sign-in link from the mailbox';
      const link = await mailTo(existing, /^(https?:\/\/\S+\/login\?\S+)$/m, 'sign-in link');
      step = 'mail: open the sign-in link';
      await page.goto(link);
      out.mail = await signInToApp('row4-mail-2');
    } else {
      await page.getByLabel('Email address', { exact: true }).fill(newcomer);
      await page.getByRole('button', { name: 'Send code', exact: true }).click();
      await expectPage('Check your email');
      step = 'new: read the code from the mailbox';
      const code = await mailTo(newcomer, /^\s*(\d{8})\s*$/m, '8-digit code');
      await page.getByLabel('Verification code', { exact: true }).fill(code);
      await page.getByRole('button', { name: 'Verify', exact: true }).click();
      step = 'new: the page after the code';
      await page.waitForLoadState();
      await page.getByRole('heading', { level: 1 }).first().waitFor();
      await shot('row5-refused.png');
      const heading = (await page.getByRole('heading', { level: 1 }).first().textContent()).trim();
      // Which fields the page asks for: none, after a refusal.
      const fields = await page.getByRole('textbox').count() + await page.getByLabel('Password').count();
      const text = await page.getByRole('main').or(page.getByRole('document')).first().innerText();
      out.new = { heading, fields, text: text.slice(0, 2000) };
    }
    await context.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  await browser.close();
  clearTimeout(timer);
} catch (e) {
  if (page) await page.screenshot({ path: join(shots, 'failure.png'), fullPage: true, timeout: 5_000 }).catch(() => {});
  fail(e.message);
}
