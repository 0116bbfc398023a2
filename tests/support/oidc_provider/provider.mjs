// The real OpenID provider intake's tests sign in against: npm's OpenID-certified oidc-provider,
// on loopback, with its own (development) login and consent pages.
//
//   node provider.mjs CONFIG.json
//
// CONFIG (written by tests/support/oidc.py): issuer, port, modules (the node_modules folder
// scripts/test installed it into), keys (private JWKs: the signing keys, so a test can rotate
// them by restarting with others), clients, accounts (id -> name, roles), resources (indicator ->
// access token lifetime). Prints one line "ready ISSUER" once it listens: the fixture waits for it.
//
// The development login page takes a known account's id and any password: the provider is a test
// double of the force's IdP in everything but its protocol, which is the real one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { default: Provider } = await import(pathToFileURL(join(config.modules, 'oidc-provider', 'lib', 'index.js')).href);

function account(id) {
  const person = config.accounts[id];
  if (!person) return undefined;
  return {
    accountId: id,
    async claims() {
      return { sub: id, preferred_username: id, name: person.name, roles: person.roles };
    },
  };
}

const firstParty = new Set(config.clients.map((client) => client.client_id));

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: { keys: config.keys },
  cookies: { keys: config.cookie_keys },
  findAccount: async (_ctx, id) => account(id),
  claims: { openid: ['sub'], profile: ['preferred_username', 'name'], roles: ['roles'] },
  // The id token carries the profile and roles claims asked for, as Entra's does with app roles.
  conformIdTokenClaims: false,
  scopes: ['openid', 'profile', 'roles', 'offline_access', 'api'],
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, client, oneOf) => oneOf ?? client.metadata().default_resource,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        const ttl = config.resources[indicator];
        if (ttl === undefined) throw new Provider.errors.InvalidTarget();
        return { scope: 'api', audience: indicator, accessTokenTTL: ttl, accessTokenFormat: 'jwt' };
      },
    },
  },
  extraClientMetadata: { properties: ['default_resource'] },
  // The signed-in person's name and roles ride in the access token too (an API validates it alone).
  extraTokenClaims: async (_ctx, token) => {
    if (!token.accountId) return undefined;
    const person = config.accounts[token.accountId];
    return person ? { preferred_username: token.accountId, roles: person.roles } : undefined;
  },
  // intake is the force's own application: consent is given by the administrator, once for all.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    if (!firstParty.has(ctx.oidc.client.clientId)) return undefined;
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile roles offline_access');
    grant.addOIDCClaims(['preferred_username', 'name', 'roles']);
    for (const indicator of Object.keys(config.resources)) grant.addResourceScope(indicator, 'api');
    await grant.save();
    return grant;
  },
  pkce: { required: () => true },
  ttl: { IdToken: 3600, Session: 3600, Interaction: 600, Grant: 3600, AuthorizationCode: 60 },
});
provider.proxy = false;

const server = provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`ready ${config.issuer}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
