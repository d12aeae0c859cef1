// A real, certified OpenID provider (panva's oidc-provider) for Haven's tests and demo.
//
// NOT for production: it uses the library's development login form, where any login and any password
// are accepted and the login becomes the account id (the ID token's `sub`). See README.md.
//
// Configuration (environment):
//   OIDC_PORT           port on 127.0.0.1 (0 = any free port; the real issuer is printed)
//   OIDC_ISSUER         default http://127.0.0.1:<port>
//   OIDC_CLIENT_ID      the one confidential client (client_secret_basic)
//   OIDC_CLIENT_SECRET
//   OIDC_REDIRECT_URIS  comma-separated, exact match
//
// Prints exactly one line `oidc-provider listening on <issuer>` once it accepts connections.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`oidc-provider: the environment variable ${name} is required`);
    process.exit(2);
  }
  return value;
}

const port = Number.parseInt(process.env.OIDC_PORT ?? '0', 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`oidc-provider: OIDC_PORT must be a port number, got ${process.env.OIDC_PORT}`);
  process.exit(2);
}
const clientId = required('OIDC_CLIENT_ID');
const clientSecret = required('OIDC_CLIENT_SECRET');
const redirectUris = required('OIDC_REDIRECT_URIS')
  .split(',')
  .map((uri) => uri.trim())
  .filter(Boolean);

const SCOPES = ['openid', 'profile', 'email'];

// A fresh signing key per run (the library's built-in development key is public knowledge).
function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    ...privateKey.export({ format: 'jwk' }),
    kid: randomBytes(8).toString('hex'),
    use: 'sig',
    alg: 'RS256',
  };
}

// Any login is an account: sub = the login, plus a name and an email derived from it.
async function findAccount(ctx, id) {
  return {
    accountId: id,
    async claims() {
      return {
        sub: id,
        name: `Customer ${id}`,
        email: id.includes('@') ? id : `${id}@example.test`,
      };
    },
  };
}

// First-party client: no consent page. Once the customer has logged in, the requested scopes are granted.
async function loadExistingGrant(ctx) {
  const { provider, client, session } = ctx.oidc;
  const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
  if (grantId) {
    const existing = await provider.Grant.find(grantId);
    if (existing) return existing;
  }
  const grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
  grant.addOIDCScope(SCOPES.join(' '));
  await grant.save();
  return grant;
}

function buildProvider(issuer) {
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: SCOPES.join(' '),
      },
    ],
    scopes: SCOPES,
    claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
    findAccount,
    loadExistingGrant,
    pkce: { methods: ['S256'], required: () => true },
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: false },
      introspection: { enabled: false },
    },
    ttl: {
      AuthorizationCode: 60,
      AccessToken: 600,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
  });

  // The development pages @import a Google web font: harmless on a laptop, a stall in a closed network
  // (Haven's browser tests run Chromium without internet). Drop that one line.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path.startsWith('/interaction/') && typeof ctx.body === 'string') {
      ctx.body = ctx.body.replace(/@import url\(https:\/\/fonts\.googleapis\.com[^)]*\);/, '');
    }
  });

  return provider;
}

// Listen first (OIDC_PORT may be 0), then build the provider for the issuer we actually got.
const server = createServer((req, res) => {
  res.statusCode = 503;
  res.end('starting');
});
server.listen(port, '127.0.0.1', () => {
  const issuer = process.env.OIDC_ISSUER || `http://127.0.0.1:${server.address().port}`;
  const provider = buildProvider(issuer);
  server.removeAllListeners('request');
  server.on('request', provider.callback());
  process.stdout.write(`oidc-provider listening on ${issuer}\n`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
