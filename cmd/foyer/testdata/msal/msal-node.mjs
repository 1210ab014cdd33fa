// msal-node.mjs drives Foyer with Microsoft's own @azure/msal-node, in its
// default (AAD) protocol mode, configured exactly as for Entra External ID
// but for the authority: authorization code with PKCE (getAuthCodeUrl,
// then acquireTokenByCode), acquireTokenSilent with forceRefresh,
// acquireTokenByRefreshToken, and the logout URL. cmd/foyer/msal_test.go
// runs it over HTTPS (NODE_EXTRA_CA_CERTS trusts the test server) and signs
// the user in itself, over HTTP with the form, when the script asks.
//
// It talks in JSON lines. On stdout:
//   {"step":"authorize","url":...}        then it reads one line on stdin:
//                                         {"code":...,"state":...}
//   {"step":"code",...result}             acquireTokenByCode
//   {"step":"silent",...result}           acquireTokenSilent, forceRefresh
//   {"step":"refresh",...result}          acquireTokenByRefreshToken
//   {"step":"logout","url":...}           the end-session URL, then exit 0
// where result is {accessToken, idToken, scopes, homeAccountId, tenantId,
// username, idTokenClaims}. Errors go to stderr with exit status 1.
//
// Environment (all required): FOYER_AUTHORITY (https://host/tenant),
// FOYER_KNOWN_AUTHORITY (host:port), FOYER_CLIENT_ID, FOYER_CLIENT_SECRET,
// FOYER_REDIRECT_URI, FOYER_POST_LOGOUT_URI, FOYER_SCOPES (space-separated);
// optional: FOYER_PROTOCOL_MODE (AAD, the default, or OIDC).

import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { ConfidentialClientApplication, CryptoProvider, LogLevel } from '@azure/msal-node';

let step = 'start';
function fail(msg) {
  process.stderr.write(`msal-node.mjs: ${step}: ${msg}\n`);
  process.exit(1);
}
function need(name) {
  const v = process.env[name];
  if (!v) fail(`${name} is not set`);
  return v;
}
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const timer = setTimeout(() => fail('gave up after 60 s'), 60_000);

const authority = need('FOYER_AUTHORITY');
const redirectUri = need('FOYER_REDIRECT_URI');
const postLogoutRedirectUri = need('FOYER_POST_LOGOUT_URI');
const scopes = need('FOYER_SCOPES').split(' ');

const cca = new ConfidentialClientApplication({
  auth: {
    clientId: need('FOYER_CLIENT_ID'),
    clientSecret: need('FOYER_CLIENT_SECRET'),
    authority,
    knownAuthorities: [need('FOYER_KNOWN_AUTHORITY')],
  },
  system: {
    // "AAD" (MSAL's default) or "OIDC": discovery at
    // {authority}/v2.0/.well-known/... or {authority}/.well-known/...
    protocolMode: process.env.FOYER_PROTOCOL_MODE || 'AAD',
    loggerOptions: {
      logLevel: LogLevel.Warning,
      piiLoggingEnabled: false,
      loggerCallback: (level, message) => process.stderr.write(`msal: ${message}\n`),
    },
  },
});

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function readLine() {
  const { value, done } = await lines.next();
  if (done) fail('stdin closed');
  return JSON.parse(value);
}

const result = (r) => ({
  accessToken: r.accessToken,
  idToken: r.idToken,
  scopes: r.scopes,
  homeAccountId: r.account?.homeAccountId,
  tenantId: r.tenantId,
  username: r.account?.username,
  idTokenClaims: r.idTokenClaims,
});

try {
  step = 'getAuthCodeUrl';
  const pkce = await new CryptoProvider().generatePkceCodes();
  const state = randomUUID();
  const url = await cca.getAuthCodeUrl({
    scopes,
    redirectUri,
    state,
    codeChallenge: pkce.challenge,
    codeChallengeMethod: 'S256',
  });
  out({ step: 'authorize', url });

  step = 'wait for the code';
  const reply = await readLine();
  if (reply.state !== state) fail(`state ${reply.state}, want ${state}`);

  step = 'acquireTokenByCode';
  const first = await cca.acquireTokenByCode({ code: reply.code, scopes, redirectUri, codeVerifier: pkce.verifier });
  out({ step: 'code', ...result(first) });

  step = 'acquireTokenSilent';
  const silent = await cca.acquireTokenSilent({ account: first.account, scopes, forceRefresh: true });
  out({ step: 'silent', ...result(silent) });

  step = 'acquireTokenByRefreshToken';
  // The refresh token Foyer rotated last, from MSAL's own cache.
  const cache = JSON.parse(cca.getTokenCache().serialize());
  const rts = Object.values(cache.RefreshToken || {});
  if (rts.length !== 1) fail(`${rts.length} refresh tokens in the cache, want 1`);
  const byRT = await cca.acquireTokenByRefreshToken({ refreshToken: rts[0].secret, scopes });
  out({ step: 'refresh', ...result(byRT) });

  step = 'logout';
  // msal-node has no logout call: an app sends the browser to the
  // authority's end-session endpoint, from its discovery document.
  const accounts = await cca.getTokenCache().getAllAccounts();
  for (const a of accounts) await cca.getTokenCache().removeAccount(a);
  const meta = await (await fetch(`${authority}/v2.0/.well-known/openid-configuration`)).json();
  const logout = new URL(meta.end_session_endpoint);
  logout.searchParams.set('post_logout_redirect_uri', postLogoutRedirectUri);
  out({ step: 'logout', url: logout.toString() });
  clearTimeout(timer);
  process.exit(0);
} catch (e) {
  fail(`${e.errorCode || e.name}: ${e.errorMessage || e.message}`);
}
