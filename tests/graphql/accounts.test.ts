// Portal accounts, sessions, API tokens and the GraphQL limits, against the built API with real Postgres and Redis.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { buildClientSchema, getIntrospectionQuery, lexicographicSortSchema, printSchema } from 'graphql';

import { closeClients, getExecutionInfo } from '../support/clients.js';
import { createTestDatabase, REPO_ROOT, type TestDatabase } from '../support/stack.js';
import { eventually, fakeModel, GraphqlClient, PORTAL_ORIGIN, startHttpApi, upload, type HttpApi } from './support/api.js';
import { createToken, PASSWORD, signUp, subscribe } from './support/fixtures.js';

// Lower than the defaults (8 and 5000): no path of today's schema is deeper than 6 fields, so the default depth
// limit only guards future nesting; a lower limit shows the mechanism.
const MAX_DEPTH = 5;
const MAX_COST = 500;

let db: TestDatabase;
let api: HttpApi;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startHttpApi(db.url, { GDS_GRAPHQL_MAX_DEPTH: String(MAX_DEPTH), GDS_GRAPHQL_MAX_COST: String(MAX_COST) });
});

afterAll(async () => {
  closeClients();
  await api?.stop();
  await db?.drop();
});

describe('sign up, sign in, sign out', () => {
  const email = 'ada@example.com';

  it('should create the account, store only a scrypt hash and set an HttpOnly session cookie', async () => {
    const client = new GraphqlClient(api.url);

    const response = await client.request(`mutation($input: SignUpInput!) { signUp(input: $input) { id name email } }`, {
      input: { name: 'Ada', email: 'Ada@Example.com', password: PASSWORD },
    });

    expect(response.data!.signUp).toMatchObject({ name: 'Ada', email });
    const cookie = response.headers.getSetCookie().find((line) => line.startsWith('gds_session='))!;
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).toMatch(/; Max-Age=2592000/);
    expect(cookie).not.toMatch(/Secure/);
    const { rows } = await db.query(`SELECT "passwordHash" FROM "Customer" WHERE email = $1`, [email]);
    expect(rows[0].passwordHash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    const sessions = await db.query(`SELECT "tokenHash" FROM "Session"`);
    expect(sessions.rows[0].tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(sessions.rows[0].tokenHash).not.toContain(client.cookie);
    expect((await client.data('{ me { email } }')).me).toEqual({ email });
  });

  it('should refuse a second account with the same email with CONFLICT', async () => {
    const errors = await new GraphqlClient(api.url).errors(`mutation($input: SignUpInput!) { signUp(input: $input) { id } }`, {
      input: { name: 'Eve', email: 'ADA@example.com', password: PASSWORD },
    });

    expect(errors[0].extensions.code).toBe('CONFLICT');
  });

  it('should refuse a password under 10 characters with BAD_USER_INPUT and store nothing', async () => {
    const errors = await new GraphqlClient(api.url).errors(`mutation($input: SignUpInput!) { signUp(input: $input) { id } }`, {
      input: { name: 'Bo', email: 'bo@example.com', password: 'short' },
    });

    expect(errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect((await db.query(`SELECT 1 FROM "Customer" WHERE email = 'bo@example.com'`)).rowCount).toBe(0);
  });

  it('should fail alike for an unknown email and a wrong password', async () => {
    const signIn = (address: string, password: string) =>
      new GraphqlClient(api.url).errors(`mutation($input: SignInInput!) { signIn(input: $input) { id } }`, {
        input: { email: address, password },
      });

    const [unknown] = await signIn('nobody@example.com', PASSWORD);
    const [wrong] = await signIn(email, 'not the password');

    expect(unknown.extensions.code).toBe('UNAUTHENTICATED');
    expect(wrong.extensions.code).toBe('UNAUTHENTICATED');
    expect(unknown.message).toBe(wrong.message);
  });

  it('should sign in (email in any case) and sign out, after which the old cookie is worth nothing', async () => {
    const client = new GraphqlClient(api.url);
    await client.data(`mutation { signIn(input: { email: "ADA@example.com", password: "${PASSWORD}" }) { id } }`);
    const cookie = client.cookie;
    expect((await client.data('{ me { email } }')).me.email).toBe(email);

    const response = await client.request('mutation { signOut }');

    expect(response.data).toEqual({ signOut: true });
    expect(response.headers.getSetCookie()[0]).toMatch(/^gds_session=; .*Max-Age=0/);
    expect(client.cookie).toBeUndefined();
    client.cookie = cookie;
    expect((await client.data('{ me { id } }')).me).toBeNull();
    expect(await client.errors('{ apiTokens { id } }')).toMatchObject([{ extensions: { code: 'UNAUTHENTICATED' } }]);
  });
});

describe('API tokens', () => {
  it('should create a token shown once, list it, and let it act for the account everywhere', async () => {
    const portal = await signUp(api, 'integrator');

    const mutation = `mutation { createApiToken(name: "ci") { token apiToken { id name prefix revokedAt } } }`;
    const created = (await portal.data(mutation)).createApiToken;

    expect(created.token).toMatch(/^gds_[A-Za-z0-9_-]{43}$/);
    expect(created.token.startsWith(created.apiToken.prefix)).toBe(true);
    expect(created.apiToken).toMatchObject({ name: 'ci', revokedAt: null });
    const listed = (await portal.data('{ apiTokens { id name prefix lastUsedAt revokedAt } }')).apiTokens;
    expect(listed).toEqual([{ ...created.apiToken, lastUsedAt: null }]);
    expect(JSON.stringify(listed)).not.toContain(created.token);

    const integrator = new GraphqlClient(api.url, created.token);
    const me = (await integrator.data('{ me { id } }')).me;
    expect(me.id).toBe((await portal.data('{ me { id } }')).me.id);
    expect((await upload(api, integrator.credentials(), fakeModel(1000))).status).toBe(201);
    await expectGrpcStatus(created.token, status.NOT_FOUND);
    const used = (await portal.data('{ apiTokens { lastUsedAt } }')).apiTokens[0];
    expect(Date.parse(used.lastUsedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('should refuse a revoked token with UNAUTHENTICATED over GraphQL, HTTP and gRPC', async () => {
    const portal = await signUp(api, 'revoker');
    const token = await createToken(portal);
    const id = (await portal.data('{ apiTokens { id } }')).apiTokens[0].id;

    const mutation = `mutation($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }`;
    const revoked = (await portal.data(mutation, { id })).revokeApiToken;

    expect(revoked.revokedAt).not.toBeNull();
    const integrator = new GraphqlClient(api.url, token);
    expect(await integrator.errors('{ me { id } }')).toMatchObject([{ extensions: { code: 'UNAUTHENTICATED' } }]);
    expect((await upload(api, integrator.credentials(), fakeModel(1000))).body.error.code).toBe('UNAUTHENTICATED');
    await expectGrpcStatus(token, status.UNAUTHENTICATED);
  });

  it("should answer NOT_FOUND for revoking another account's token, and leave it working", async () => {
    const owner = await signUp(api, 'owner');
    const token = await createToken(owner);
    const id = (await owner.data('{ apiTokens { id } }')).apiTokens[0].id;
    const stranger = await signUp(api, 'stranger');

    const errors = await stranger.errors(`mutation($id: ID!) { revokeApiToken(id: $id) { id } }`, { id });

    expect(errors[0].extensions.code).toBe('NOT_FOUND');
    expect((await new GraphqlClient(api.url, token).data('{ me { id } }')).me).not.toBeNull();
  });
});

describe('unauthenticated callers', () => {
  it('should see me as null and get UNAUTHENTICATED for everything else', async () => {
    const anonymous = new GraphqlClient(api.url);

    expect((await anonymous.data('{ me { id } }')).me).toBeNull();
    const operations = ['{ queries { totalCount } }', '{ dataOwners { id } }', '{ datasets { name } }', '{ apiTokens { id } }'];
    for (const operation of operations) {
      expect(await anonymous.errors(operation)).toMatchObject([{ extensions: { code: 'UNAUTHENTICATED' } }]);
    }
    expect(await anonymous.errors('mutation { cancelQuery(id: "00000000-0000-4000-8000-000000000000") { id } }')).toMatchObject([
      { extensions: { code: 'UNAUTHENTICATED' } },
    ]);
  });

  it('should get UNAUTHENTICATED for a malformed bearer token rather than being treated as anonymous', async () => {
    const errors = await new GraphqlClient(api.url, 'not-a-token').errors('{ me { id } }');

    expect(errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(errors[0].extensions.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('malformed requests', () => {
  it('should answer BAD_USER_INPUT for a variable of the wrong type, and GRAPHQL_VALIDATION_FAILED for an unknown field', async () => {
    const client = await signUp(api, 'sloppy');

    const badVariable = await client.errors('query($n: Int) { queries(first: $n) { totalCount } }', { n: 'ten' });
    const unknownField = await client.errors('{ queries { total } }');
    const badSeed = await client.errors(
      `mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { id } }`,
      { input: { uploadId: '00000000-0000-4000-8000-000000000000', dataset: 'demo', training: { seed: '-x' } } },
    );

    expect(badVariable[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(unknownField[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(badSeed[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(badSeed[0].message).toMatch(/BigInt/);
  });
});

describe('limits', () => {
  it(`should refuse an operation deeper than ${MAX_DEPTH} fields with BAD_USER_INPUT / QUERY_TOO_DEEP`, async () => {
    const client = await signUp(api, 'deep');

    const response = await client.request('{ queries { edges { node { executions { progress { epoch } } } } } }');

    expect(response.status).toBe(400);
    expect(response.errors).toMatchObject([{ extensions: { code: 'BAD_USER_INPUT', reason: 'QUERY_TOO_DEEP' } }]);
    expect(response.data).toBeNull();
  });

  it('should refuse an operation over the cost limit, counting list sizes from variables', async () => {
    const client = await signUp(api, 'costly');
    const query = 'query Costly($n: Int) { queries(first: $n) { edges { node { id status executions { id } } } } }';

    expect((await client.request(query, { n: 5 })).errors).toBeUndefined();
    const response = await client.request(query, { n: 100 });

    expect(response.errors).toMatchObject([{ extensions: { code: 'BAD_USER_INPUT', reason: 'QUERY_TOO_COSTLY' } }]);
  });

  it('should apply the limits to subscriptions over graphql-ws too', async () => {
    const client = await signUp(api, 'costly-ws');
    const ws = client.subscriptions();

    const fine = subscribe(ws, 'subscription { queryUpdated { id executions { lossCurve { epoch loss } } } }');
    const costly = subscribe(
      ws,
      'subscription { queryUpdated { a: executions { lossCurve { epoch loss totalEpochs reportedAt } } b: executions { lossCurve { epoch loss } } } }',
    );
    await costly.completed;
    await new Promise((resolve) => setTimeout(resolve, 200));
    fine.stop();
    await ws.dispose();

    expect(fine.errors).toEqual([]);
    expect(costly.errors).toMatchObject([[{ extensions: { code: 'BAD_USER_INPUT', reason: 'QUERY_TOO_COSTLY' } }]]);
  });

  it('should let the standard introspection query through', async () => {
    const { data, errors } = await new GraphqlClient(api.url).request(getIntrospectionQuery());

    expect(errors).toBeUndefined();
    expect(data).toHaveProperty('__schema');
  });
});

describe('the schema', () => {
  it('should serve exactly the committed apps/api/schema.graphql', async () => {
    const { data } = await new GraphqlClient(api.url).request(getIntrospectionQuery({ descriptions: true }));
    const served = printSchema(lexicographicSortSchema(buildClientSchema(data as never)));

    const committed = readFileSync(join(REPO_ROOT, 'apps/api/schema.graphql'), 'utf8').replace(/^#.*\n\n/, '');

    expect(served + '\n').toBe(committed);
  });
});

describe('browsers on other origins', () => {
  it('should allow the portal origin with credentials, and no other', async () => {
    const preflight = (origin: string) =>
      fetch(`${api.url}/uploads`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-content-sha256' },
      });

    const allowed = await preflight(PORTAL_ORIGIN);
    const refused = await preflight('https://evil.example');

    expect(allowed.headers.get('access-control-allow-origin')).toBe(PORTAL_ORIGIN);
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/X-Content-SHA256/i);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('should close a graphql-ws connection from a foreign origin with 4403', async () => {
    const client = await signUp(api, 'hijacked');
    const foreign = client.subscriptions({ origin: 'https://evil.example' });

    const subscription = subscribe(foreign, 'subscription { queryUpdated { id } }');
    await subscription.completed;
    await foreign.dispose();

    expect((subscription.errors[0] as { code: number }).code).toBe(4403);
  });
});

describe('logs', () => {
  it('should write one line per GraphQL operation with its outcome', async () => {
    const client = await signUp(api, 'logged');
    await client.request('query Mine { me { id } }');
    await client.request('query Theirs { query(id: "00000000-0000-4000-8000-000000000000") { id } }');

    const logged = (name: string) =>
      api.logs.find((line) => line.event === 'graphql.operation' && line.operationName === name) ?? fail(name);
    const [mine, theirs] = await eventually(async () => [logged('Mine'), logged('Theirs')]);

    expect(mine).toMatchObject({ code: 'OK', operationType: 'query' });
    expect(mine.customerId).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof mine.durationMs).toBe('number');
    expect(mine.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(theirs).toMatchObject({ code: 'NOT_FOUND', customerId: mine.customerId });
  });
});

function fail(what: string): never {
  throw new Error(`no log line for ${what} yet`);
}

async function expectGrpcStatus(token: string, expected: status): Promise<void> {
  const missing = '00000000-0000-4000-8000-000000000000';
  const error = (await getExecutionInfo(api.grpcAddress, token, missing).catch((e: unknown) => e)) as { code: number };

  expect(status[error.code]).toBe(status[expected]);
}
