// Test-only OpenID provider for the Waypost suite: a real oidc-provider on loopback.
//
//   node provider.mjs CONFIG.json
//
// CONFIG: {"port": int, "issuer": "http://127.0.0.1:PORT",
//          "clients": [{"client_id", "client_secret", "redirect_uris": [...]}],
//          "accounts": {"<sub>": {"email", "email_verified", "name"}}}
//
// stdout carries exactly one line, `ready <issuer>`, once the server listens;
// everything else oidc-provider says (notices and warnings) goes to stderr.

import { generateKeyPair } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { promisify } from 'node:util';

// oidc-provider prints its NOTICE lines with console.info (stdout); keep stdout
// for the ready line alone. Must happen before the library is loaded.
console.info = (...args) => console.error(...args);
console.log = (...args) => console.error(...args);

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node provider.mjs CONFIG.json');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const accounts = config.accounts ?? {};

// A fresh signing key per run (the tests read it from the JWKS endpoint), made on the
// thread pool while the library loads.
const rsaKey = promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
const [{ default: Provider }, { privateKey }] = await Promise.all([import('oidc-provider'), rsaKey]);
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'waypost-test-rs256', alg: 'RS256', use: 'sig' };

const provider = new Provider(config.issuer, {
  clients: config.clients.map((client) => ({
    client_id: client.client_id,
    client_secret: client.client_secret,
    redirect_uris: client.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: client.token_endpoint_auth_method ?? 'client_secret_basic',
  })),
  jwks: { keys: [signingKey] },
  responseTypes: ['code'],
  // v9 only implements S256; `methods` is no longer an option.
  pkce: { required: () => true },
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  features: {
    devInteractions: { enabled: true },
  },
  cookies: {
    // Distinct from the app's waypost_* cookies, should a jar ever hold both.
    names: {
      session: 'testidp_session',
      interaction: 'testidp_interaction',
      resume: 'testidp_interaction_resume',
    },
    keys: ['waypost-test-idp-cookie-key-0123456789abcdef'],
  },
  async findAccount(_ctx, sub) {
    const account = Object.hasOwn(accounts, sub) ? accounts[sub] : undefined;
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        const claims = { sub, email: account.email, email_verified: Boolean(account.email_verified) };
        if (account.name != null) claims.name = account.name; // an account may have no name
        return claims;
      },
    };
  },
});

// devInteractions takes any login; a real IdP refuses an unknown one and shows its
// login page again. Do that here rather than end on a server_error page (findAccount
// finds nobody). The body is read here and handed on as req.body, which
// oidc-provider accepts (with a one-time warning on stderr).
const SUBMIT = /^\/interaction\/[^/]+$/;
provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && SUBMIT.test(ctx.path) && ctx.is('application/x-www-form-urlencoded')) {
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    ctx.req.body = Buffer.concat(chunks);
    const form = new URLSearchParams(ctx.req.body.toString('utf8'));
    if (form.get('prompt') === 'login' && !Object.hasOwn(accounts, form.get('login') ?? '')) {
      ctx.redirect(ctx.path); // the login page of the same interaction
      ctx.status = 303;
      return;
    }
  }
  await next();
});

provider.on('server_error', (_ctx, error) => console.error('server_error', error));

// Static clients are only validated on first use: do it now, so a bad config fails
// the start instead of the first authorization request.
for (const { client_id: clientId } of config.clients) {
  try {
    if (!(await provider.Client.find(clientId))) throw new Error('not found');
  } catch (error) {
    console.error(`invalid client ${clientId}: ${error.error_description ?? error.message}`);
    process.exit(1);
  }
}

const server = createServer(provider.callback());
server.on('error', (error) => {
  console.error(`cannot listen on 127.0.0.1:${config.port}: ${error.code ?? error.message}`);
  process.exit(1);
});
server.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`ready ${config.issuer}\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
