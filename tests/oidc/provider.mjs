// A real OpenID provider for the tests: node-oidc-provider (https://github.com/panva/node-oidc-provider), started
// by tests/oidc_support.py on a free loopback port. It issues JWT access tokens (RFC 9068, RS256) through the
// client-credentials grant, bound to the resource the client asks for (RFC 8707 resource indicators), with the
// clients' extra claims (a manager's rows, a person's name) and a per-client lifetime. Dynamic client registration
// is on, as Claude's and ChatGPT's connectors use it.
//
//   node provider.mjs <port> '<clients JSON>'
//   clients: [{"id", "secret", "scope": "retention:manager", "claims": {...}, "ttl": 600}]
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const clients = JSON.parse(process.argv[3]);
const issuer = `http://127.0.0.1:${port}`;
const byId = new Map(clients.map((c) => [c.id, c]));
const scopes = [...new Set(clients.flatMap((c) => c.scope.split(' ')))];

const provider = new Provider(issuer, {
  clients: clients.map((c) => ({
    client_id: c.id, client_secret: c.secret, grant_types: ['client_credentials'], redirect_uris: [],
    response_types: [], scope: c.scope,
  })),
  scopes: ['openid', ...scopes],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    registration: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Any resource a client names gets a JWT for it: the server under test must refuse the other audiences.
      getResourceServerInfo: async (ctx, resource, client) => ({
        scope: scopes.join(' '),
        audience: resource,
        accessTokenFormat: 'jwt',
        accessTokenTTL: (byId.get(client.clientId) || {}).ttl || 600,
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  extraTokenClaims: async (ctx, token) => (byId.get(token.clientId) || {}).claims,
});
provider.listen(port, '127.0.0.1', () => console.log(`listening ${issuer}`));
