// A second account can neither see, nor download, nor cancel, nor follow the first one's query: through GraphQL,
// the download endpoint and gRPC. Against the built API with real Postgres and Redis.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';

import { closeClients, getExecutionInfo, type TestDataOwner } from '../support/clients.js';
import { createTestDatabase, type TestDatabase } from '../support/stack.js';
import { download, eventually, fakeModel, GraphqlClient, sha256, startHttpApi, upload, type HttpApi } from './support/api.js';
import { createToken, markVerified, registerOwners, signUp, submitModel, subscribe } from './support/fixtures.js';

let db: TestDatabase;
let api: HttpApi;
let owners: TestDataOwner[];
let first: GraphqlClient;
let second: GraphqlClient;
let firstToken: string;
let secondToken: string;
let queryId: string;
let uploadId: string;
const result = fakeModel(100_000, 3);

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startHttpApi(db.url);
  owners = await registerOwners(api.grpcAddress, 3);
  first = await signUp(api, 'first');
  firstToken = await createToken(first);
  // The second account acts as an integrator would: with an API token, not a cookie.
  second = new GraphqlClient(api.url, await createToken(await signUp(api, 'second')));
  secondToken = second.token!;

  const query = await submitModel(api, first, fakeModel(4000, 1));
  queryId = query.id;
  uploadId = (await upload(api, first.credentials(), fakeModel(4000, 2))).body.id;
  for (const owner of owners) {
    await owner.getQueryInfo(queryId);
    await owner.complete(queryId, result);
  }
  await markVerified(db, queryId, query.executions[0].id, []);
});

afterAll(async () => {
  closeClients();
  await api?.stop();
  await db?.drop();
});

describe('GraphQL', () => {
  it("should answer NOT_FOUND for the other account's query, exactly as for a missing one", async () => {
    const theirs = await second.errors(`query($id: ID!) { query(id: $id) { id } }`, { id: queryId });
    const missingId = '00000000-0000-4000-8000-000000000000';
    const missing = await second.errors(`query($id: ID!) { query(id: $id) { id } }`, { id: missingId });

    expect(theirs[0].extensions.code).toBe('NOT_FOUND');
    expect(theirs[0].message.replace(queryId, 'ID')).toBe(missing[0].message.replace(missingId, 'ID'));
  });

  it("should leave the other account's queries out of the list", async () => {
    const { queries } = await second.data('{ queries { totalCount edges { node { id } } } }');

    expect(queries).toEqual({ totalCount: 0, edges: [] });
    expect((await first.data('{ queries { totalCount } }')).queries.totalCount).toBe(1);
  });

  it("should refuse to cancel the other account's query with NOT_FOUND and leave it as it was", async () => {
    const errors = await second.errors(`mutation($id: ID!) { cancelQuery(id: $id) { id } }`, { id: queryId });

    expect(errors[0].extensions.code).toBe('NOT_FOUND');
    expect((await first.data(`query($id: ID!) { query(id: $id) { status } }`, { id: queryId })).query.status).toBe('COMPLETED');
  });

  it("should neither show nor submit the other account's upload", async () => {
    const shown = await second.errors(`query($id: ID!) { upload(id: $id) { id } }`, { id: uploadId });
    const submitted = await second.errors(`mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { id } }`, {
      input: { uploadId, dataset: 'demo' },
    });

    expect(shown[0].extensions.code).toBe('NOT_FOUND');
    expect(submitted[0].extensions.code).toBe('NOT_FOUND');
    expect((await db.query(`SELECT "claimedAt" FROM "ModelUpload" WHERE id = $1`, [uploadId])).rows[0].claimedAt).toBeNull();
  });

  it("should refuse a subscription to the other account's query, and never send its changes to anyone else", async () => {
    const mine = await submitModel(api, first, fakeModel(4000, 4));
    const firstWs = first.subscriptions();
    const secondWs = second.subscriptions();
    const targeted = subscribe(secondWs, `subscription($id: ID) { queryUpdated(id: $id) { id } }`, { id: mine.id });
    const everything = subscribe(secondWs, 'subscription { queryUpdated { id } }');
    const own = subscribe(firstWs, 'subscription { queryUpdated { id } }');

    await targeted.completed;
    await eventually(async () => {
      await owners[0].reportProgress(mine.id, 1, 3, 0.5).catch(() => owners[0].getQueryInfo(mine.id));
      if (own.events.length === 0) throw new Error('the owner saw nothing yet');
    });
    // The second account's own query proves its subscription live: it must see that one, and only that one.
    const theirs = await submitModel(api, second, fakeModel(4000, 5));
    await eventually(async () => expect(everything.events.length).toBeGreaterThan(0));
    await owners[0].reportProgress(mine.id, 2, 3, 0.4);
    await new Promise((resolve) => setTimeout(resolve, 300));
    everything.stop();
    own.stop();
    await Promise.all([firstWs.dispose(), secondWs.dispose()]);

    expect(targeted.events).toMatchObject([{ errors: [{ extensions: { code: 'NOT_FOUND' } }] }]);
    expect(targeted.events[0].data ?? null).toBeNull();
    expect(everything.events.map((event) => event.data.queryUpdated.id)).toEqual(everything.events.map(() => theirs.id));
    expect(own.events[0].data.queryUpdated.id).toBe(mine.id);
  });
});

describe('the download endpoint', () => {
  it("should answer 404 for the other account's verified result, and serve it to its owner", async () => {
    const theirs = await download(api, second.credentials(), queryId);
    const own = await download(api, first.credentials(), queryId);
    const byToken = await download(api, { authorization: `Bearer ${firstToken}` }, queryId);

    expect(theirs.status).toBe(404);
    expect(theirs.json().error.code).toBe('NOT_FOUND');
    expect(theirs.headers.get('x-content-sha256')).toBeNull();
    expect(own.status).toBe(200);
    expect(own.headers.get('x-content-sha256')).toBe(sha256(result));
    expect(byToken.bytes.equals(result)).toBe(true);
  });

  it('should answer 401 without credentials', async () => {
    const response = await download(api, {}, queryId);

    expect(response.status).toBe(401);
    expect(response.json().error.code).toBe('UNAUTHENTICATED');
  });
});

describe('gRPC', () => {
  it("should answer GetQueryExecutionInfo with the other account's token with NOT_FOUND", async () => {
    const error = (await getExecutionInfo(api.grpcAddress, secondToken, queryId).catch((e: unknown) => e)) as { code: number };
    const own = await getExecutionInfo(api.grpcAddress, firstToken, queryId);

    expect(status[error.code]).toBe('NOT_FOUND');
    expect(own.info.status).toBe('QUERY_STATUS_COMPLETED');
  });
});
