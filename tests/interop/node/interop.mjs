// node-oidc-provider 9 as a DPoP-capable authorization server (client credentials, resource
// indicators, JWT access tokens signed ES256), and a client that uses jose for its DPoP proofs.
// For tests/dpop_interop.rs:
//
//   node interop.mjs          prints "ISSUER <url>", then reads one line from stdin: the base URL
//                             of an API that verifies the provider's tokens (the `jwks` example
//                             in DPOP=required mode); it gets a bound token, calls `<api>/me`
//                             several ways, prints one JSON line of results, and exits.
import http from 'node:http';
import readline from 'node:readline';
import crypto from 'node:crypto';
import * as jose from 'jose';
import { Provider } from 'oidc-provider';

const RESOURCE = process.env.RESOURCE || 'https://api.example';
const CLIENT = { id: 'interop', secret: 'interop-client-secret-0123456789abcdef' };

const { privateKey: signing } = await jose.generateKeyPair('ES256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(signing)), alg: 'ES256', use: 'sig', kid: 'interop-1' };

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT.id,
    client_secret: CLIENT.secret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'ES256',
  }],
  jwks: { keys: [signingJwk] },
  ttl: { ClientCredentials: 300 },
  features: {
    clientCredentials: { enabled: true },
    dPoP: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'read',
        audience: RESOURCE,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});
server.on('request', provider.callback());
console.log(`ISSUER ${issuer}`);

const lines = readline.createInterface({ input: process.stdin });
const api = (await lines[Symbol.asyncIterator]().next()).value.trim();

// The client's DPoP key and its proofs (RFC 9449 §4.2), made by jose.
async function dpopKey() {
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256');
  return { privateKey, jwk: await jose.exportJWK(publicKey) };
}
function proof(key, htm, htu, accessToken) {
  const claims = { htm, htu, jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000) };
  if (accessToken) {
    claims.ath = jose.base64url.encode(crypto.createHash('sha256').update(accessToken).digest());
  }
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
    .sign(key.privateKey);
}

const key = await dpopKey();
const tokenResponse = await fetch(`${issuer}/token`, {
  method: 'POST',
  headers: {
    'content-type': 'application/x-www-form-urlencoded',
    dpop: await proof(key, 'POST', `${issuer}/token`),
  },
  body: new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: CLIENT.id,
    client_secret: CLIENT.secret,
    scope: 'read',
    resource: RESOURCE,
  }),
});
const token = await tokenResponse.json();
if (!token.access_token) {
  console.log(JSON.stringify({ token_status: tokenResponse.status, token_error: token }));
  process.exit(1);
}
const payload = jose.decodeJwt(token.access_token);
const header = jose.decodeProtectedHeader(token.access_token);
const expectedJkt = await jose.calculateJwkThumbprint(key.jwk, 'sha256');

async function call(authorization, dpop) {
  const headers = { authorization };
  if (dpop) headers.dpop = dpop;
  const response = await fetch(`${api}/me`, { headers });
  const body = await response.text();
  let reason = null;
  try { reason = JSON.parse(body).reason ?? null; } catch { /* a handler's answer */ }
  return { status: response.status, reason, challenges: response.headers.get('www-authenticate') };
}
const at = token.access_token;
const good = await proof(key, 'GET', `${api}/me`, at);
const results = {
  token_status: tokenResponse.status,
  token_type: token.token_type,
  typ: header.typ,
  alg: header.alg,
  cnf_jkt_matches: payload.cnf?.jkt === expectedJkt,
  aud: payload.aud,
  with_proof: await call(`DPoP ${at}`, good),
  replayed: await call(`DPoP ${at}`, good),
  as_bearer: await call(`Bearer ${at}`),
  other_key: await call(`DPoP ${at}`, await proof(await dpopKey(), 'GET', `${api}/me`, at)),
  wrong_htu: await call(`DPoP ${at}`, await proof(key, 'GET', `${api}/other`, at)),
  no_token: await call('Basic eDp5'),
};
console.log(JSON.stringify(results));
server.close();
process.exit(0);
