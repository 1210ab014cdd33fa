// node verify.mjs JWKS_FILE TOKEN_FILE...
//
// Verifies each compact JWS with the jose package against the JSON Web Key
// Set in JWKS_FILE (RS256 and ES256 only) and prints one JSON line per
// token: {"file","alg","kid","payload"}. Exits 1 at the first failure.
import { readFileSync } from 'node:fs';
import { compactVerify, createLocalJWKSet } from 'jose';

const [jwksFile, ...tokenFiles] = process.argv.slice(2);
if (!jwksFile || tokenFiles.length === 0) {
  console.error('usage: node verify.mjs JWKS_FILE TOKEN_FILE...');
  process.exit(2);
}
const keys = createLocalJWKSet(JSON.parse(readFileSync(jwksFile, 'utf8')));
for (const file of tokenFiles) {
  const token = readFileSync(file, 'utf8').trim();
  try {
    const { payload, protectedHeader } = await compactVerify(token, keys, { algorithms: ['RS256', 'ES256'] });
    console.log(JSON.stringify({ file, alg: protectedHeader.alg, kid: protectedHeader.kid, payload: new TextDecoder().decode(payload) }));
  } catch (err) {
    console.error(`${file}: ${err.code ?? ''} ${err.message}`);
    process.exit(1);
  }
}
