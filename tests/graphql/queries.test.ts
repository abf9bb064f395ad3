// Upload, submit, follow, cancel and download a query through GraphQL and the HTTP endpoints, with Data Owners
// speaking gRPC, against the built API with real Postgres and Redis.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { closeClients, type TestDataOwner } from '../support/clients.js';
import { createTestDatabase, type TestDatabase } from '../support/stack.js';
import {
  abortedUpload,
  download,
  eventually,
  fakeModel,
  GraphqlClient,
  sha256,
  startHttpApi,
  upload,
  type HttpApi,
} from './support/api.js';
import {
  countRows,
  DATASET_HASH,
  markVerified,
  QUERY_FIELDS,
  registerOwners,
  signUp,
  submitModel,
  subscribe,
  waitForIdleTransactions,
} from './support/fixtures.js';

const MAX_MODEL_BYTES = 16 * 1024 * 1024;

let db: TestDatabase;
let api: HttpApi;
let owners: TestDataOwner[];
let client: GraphqlClient;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startHttpApi(db.url, { GDS_MAX_MODEL_BYTES: String(MAX_MODEL_BYTES), GDS_PUBLIC_API_URL: 'https://api.example.test' });
  owners = await registerOwners(api.grpcAddress, 3);
  client = await signUp(api, 'follower');
});

afterAll(async () => {
  closeClients();
  await api?.stop();
  await db?.drop();
});

const queryById = (id: string) => client.data(`query($id: ID!) { query(id: $id) { ${QUERY_FIELDS} } }`, { id }).then((d) => d.query);

describe('a query from upload to verified result', () => {
  const model = fakeModel(5 * 1024 * 1024 + 13, 7);
  const results = [fakeModel(300_000, 11), fakeModel(300_000, 12), fakeModel(300_000, 13)];
  let queryId: string;

  it('should take the model as a streamed upload and describe it', async () => {
    const uploaded = await upload(api, client.credentials(), model, { 'x-file-name': encodeURIComponent('my model.pt') });

    expect(uploaded.status).toBe(201);
    expect(uploaded.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      sha256: sha256(model),
      size: String(model.length),
      modelFormat: 'TORCH_ARCHIVE',
      fileName: 'my model.pt',
    });
    const query = `query($id: ID!) { upload(id: $id) { id sha256 size modelFormat fileName } }`;
    const info = (await client.data(query, { id: uploaded.body.id })).upload;
    expect(info).toEqual(uploaded.body);
  });

  it('should submit it with the training spec, dataset, replication and tolerance', async () => {
    const query = await submitModel(api, client, model, { name: 'first', tolerance: 0.001, quorum: 2, deadlineSeconds: 600 });
    queryId = query.id;

    expect(query).toMatchObject({
      name: 'first',
      status: 'PENDING',
      datasetHash: DATASET_HASH,
      datasetName: 'demo',
      replication: 3,
      quorum: 2,
      tolerance: 0.001,
      training: {
        epochs: 3,
        batchSize: 16,
        optimizer: 'ADAM',
        learningRate: 0.05,
        loss: 'MSE',
        seed: '18446744073709551615',
        momentum: 0,
      },
      modelFormat: 'TORCH_ARCHIVE',
      modelSha256: sha256(model),
      modelSize: String(model.length),
      report: null,
      resultDownloadUrl: null,
    });
    expect(Date.parse(query.deadlineAt) - Date.parse(query.createdAt)).toBeCloseTo(600_000, -3);
    expect(query.executions.map((e: any) => e.dataOwnerId).sort()).toEqual(owners.map((o) => o.dataOwnerId).sort());
    expect(query.executions.map((e: any) => e.dataOwnerName).sort()).toEqual(['owner-0', 'owner-1', 'owner-2']);
    expect(query.executions.every((e: any) => e.status === 'ASSIGNED' && e.lossCurve.length === 0 && e.progress === null)).toBe(true);
    expect(query.timeline).toMatchObject([{ source: 'service', kind: 'query.submitted', detail: { modelSha256: sha256(model) } }]);
  });

  it('should hand the Data Owners the model byte for byte', async () => {
    for (const owner of owners) {
      const { model: received } = await owner.getQueryInfo(queryId);
      expect(received.equals(model)).toBe(true);
    }
  });

  it('should show progress, the loss curve and the timeline as the Data Owners report', async () => {
    for (const [epoch, loss] of [0.9, 0.5, 0.25].entries()) await owners[0].reportProgress(queryId, epoch + 1, 3, loss);
    await owners[1].reportProgress(queryId, 1, 3, 0.8);

    const query = await queryById(queryId);

    expect(query.status).toBe('RUNNING');
    const byOwner = (owner: TestDataOwner) => query.executions.find((e: any) => e.dataOwnerId === owner.dataOwnerId);
    expect(byOwner(owners[0])).toMatchObject({ status: 'RUNNING', progress: { epoch: 3, totalEpochs: 3, loss: 0.25 } });
    expect(byOwner(owners[0]).lossCurve.map((p: any) => [p.epoch, p.loss])).toEqual([[1, 0.9], [2, 0.5], [3, 0.25]]);
    expect(byOwner(owners[1]).lossCurve).toHaveLength(1);
    expect(byOwner(owners[2]).lossCurve).toEqual([]);
    expect(byOwner(owners[0]).startedAtNs).toMatch(/^\d{19}$/);
    const started = query.timeline.filter((entry: any) => entry.kind === 'execution.started');
    expect(started.map((entry: any) => entry.dataOwnerId).sort()).toEqual(owners.map((o) => o.dataOwnerId).sort());
  });

  it('should list results and move to VERIFYING once every Data Owner returned', async () => {
    for (const [index, owner] of owners.entries()) await owner.complete(queryId, results[index]);

    const query = await queryById(queryId);

    expect(query.status).toBe('VERIFYING');
    for (const [index, owner] of owners.entries()) {
      const execution = query.executions.find((e: any) => e.dataOwnerId === owner.dataOwnerId);
      expect(execution).toMatchObject({ status: 'SUCCEEDED', resultSha256: sha256(results[index]), resultSize: '300000' });
    }
    const kinds = query.timeline.map((entry: any) => entry.kind);
    expect(kinds.filter((kind: string) => kind === 'execution.succeeded')).toHaveLength(3);
    expect(kinds.at(-1)).toBe('query.verifying');
    const times = query.timeline.map((entry: any) => Date.parse(entry.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it("should merge the chain's announcements into the timeline, in time order", async () => {
    // The chain relay is another process (libs/chain); its outbox rows are written here as it would write them.
    const owner = owners[1].dataOwnerId;
    await db.query(
      `INSERT INTO "ChainOutbox" ("queryId", kind, "dedupeKey", payload, status, "txHash", "blockNumber", "sentAt", "confirmedAt")
       VALUES ($1, 'QUERY_SUBMITTED', '', $2, 'CONFIRMED', '0xabc', 42, now(), now() + interval '1 hour'),
              ($1, 'EXECUTION_COMPLETED', $3, $4, 'PENDING', NULL, NULL, NULL, NULL)`,
      [queryId, JSON.stringify({ queryId }), owner, JSON.stringify({ queryId, dataOwnerId: owner, resultHash: sha256(results[1]) })],
    );

    const { timeline, executions } = await queryById(queryId);

    const chain = timeline.filter((entry: any) => entry.source === 'chain');
    expect(chain).toEqual([
      {
        at: expect.any(String),
        source: 'chain',
        kind: 'chain.ExecutionCompleted',
        executionId: executions.find((e: any) => e.dataOwnerId === owner).id,
        dataOwnerId: owner,
        txHash: null,
        blockNumber: null,
        status: 'PENDING',
        detail: { queryId, dataOwnerId: owner, resultHash: sha256(results[1]) },
      },
      expect.objectContaining({ kind: 'chain.QuerySubmitted', txHash: '0xabc', blockNumber: '42', status: 'CONFIRMED' }),
    ]);
    // Confirmed an hour from now (a clock the test controls): it stands at its confirmation time, last.
    expect(timeline.at(-1).kind).toBe('chain.QuerySubmitted');
    const times = timeline.map((entry: any) => Date.parse(entry.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('should refuse the download with 409 until the query is COMPLETED', async () => {
    const response = await download(api, client.credentials(), queryId);

    expect(response.status).toBe(409);
    expect(response.json().error.code).toBe('FAILED_PRECONDITION');
  });

  it('should show the report and stream the verified result with its SHA-256 once verified', async () => {
    const before = await queryById(queryId);
    const canonical = before.executions.find((e: any) => e.dataOwnerId === owners[1].dataOwnerId);
    const outlier = before.executions.find((e: any) => e.dataOwnerId === owners[2].dataOwnerId);
    await markVerified(db, queryId, canonical.id, [
      {
        executionId: canonical.id,
        dataOwnerId: owners[1].dataOwnerId,
        resultSha256: sha256(results[1]),
        accepted: true,
        maxAbsDiff: 0,
        relativeL2: 0,
        reason: '',
      },
      // -1: not comparable, as the gRPC ConsistencyEntry says.
      { executionId: outlier.id, accepted: false, maxAbsDiff: -1, relativeL2: -1, reason: 'TENSOR_MISMATCH fc.weight' },
    ]);

    const query = await queryById(queryId);
    const response = await download(api, client.credentials(), queryId);

    expect(query.status).toBe('COMPLETED');
    expect(query.resultDownloadUrl).toBe(`https://api.example.test/queries/${queryId}/result`);
    expect(query.report).toMatchObject({
      verdict: 'CONSISTENT',
      canonicalExecutionId: canonical.id,
      canonicalSha256: sha256(results[1]),
      quorum: 2,
      entries: [
        { executionId: canonical.id, accepted: true, maxAbsDiff: 0, reason: '' },
        {
          executionId: outlier.id,
          dataOwnerId: owners[2].dataOwnerId,
          resultSha256: sha256(results[2]),
          accepted: false,
          maxAbsDiff: null,
          relativeL2: null,
          reason: 'TENSOR_MISMATCH fc.weight',
        },
      ],
    });
    expect(response.status).toBe(200);
    expect(response.bytes.equals(results[1])).toBe(true);
    expect(response.headers.get('x-content-sha256')).toBe(sha256(results[1]));
    expect(response.headers.get('content-length')).toBe('300000');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="${queryId}-state_dict.pt"`);
  });
});

describe('queryUpdated', () => {
  it("should push each change of the subscriber's query, with its new state", async () => {
    const query = await submitModel(api, client, fakeModel(2000, 21));
    const ws = client.subscriptions();
    const fields = 'id status executions { dataOwnerId status progress { epoch loss } }';
    const one = subscribe(ws, `subscription($id: ID) { queryUpdated(id: $id) { ${fields} } }`, { id: query.id });
    const all = subscribe(ws, 'subscription { queryUpdated { id status } }');

    // A subscription is live once the server has run its resolver; report until the first event shows that it is.
    await eventually(async () => {
      await owners[0].getQueryInfo(query.id).catch(() => undefined);
      await owners[0].reportProgress(query.id, 1, 3, 0.7);
      if (one.events.length === 0 || all.events.length === 0) throw new Error('no event yet');
    });
    await owners[0].reportProgress(query.id, 2, 3, 0.4);
    await eventually(async () => {
      const last = one.events.at(-1).data.queryUpdated;
      const execution = last.executions.find((e: any) => e.dataOwnerId === owners[0].dataOwnerId);
      expect(execution.progress).toEqual({ epoch: 2, loss: 0.4 });
    });
    await client.data(`mutation($id: ID!) { cancelQuery(id: $id) { id } }`, { id: query.id });
    await eventually(async () => expect(one.events.at(-1).data.queryUpdated.status).toBe('CANCELLED'));
    one.stop();
    all.stop();
    await ws.dispose();

    expect(one.errors).toEqual([]);
    expect(one.events.every((event) => event.data.queryUpdated.id === query.id)).toBe(true);
    expect(all.events[0].data.queryUpdated.id).toBe(query.id);
  });

  it('should authenticate integrators by connectionParams and refuse anonymous subscribers with UNAUTHENTICATED', async () => {
    const anonymous = new GraphqlClient(api.url).subscriptions();
    const refused = subscribe(anonymous, 'subscription { queryUpdated { id } }');
    await refused.completed;
    await anonymous.dispose();

    expect(refused.events).toMatchObject([{ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] }]);
  });
});

describe('cancelQuery', () => {
  it('should cancel the query and its executions, then refuse a second cancel with FAILED_PRECONDITION', async () => {
    const query = await submitModel(api, client, fakeModel(3000, 31));

    const mutation = `mutation($id: ID!) { cancelQuery(id: $id) { status executions { status } timeline { kind } } }`;
    const cancelled = (await client.data(mutation, { id: query.id })).cancelQuery;
    const again = await client.errors(`mutation($id: ID!) { cancelQuery(id: $id) { id } }`, { id: query.id });

    expect(cancelled.status).toBe('CANCELLED');
    expect(cancelled.executions.map((e: any) => e.status)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
    expect(cancelled.timeline.map((entry: any) => entry.kind)).toEqual(['query.submitted', 'query.cancelled']);
    expect(again[0].extensions.code).toBe('FAILED_PRECONDITION');
  });
});

describe('queries', () => {
  it('should page through every query newest first with cursors, and filter by status', async () => {
    const reader = await signUp(api, 'pager');
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) ids.push((await submitModel(api, reader, fakeModel(1000, 40 + index))).id);
    await reader.data(`mutation($id: ID!) { cancelQuery(id: $id) { id } }`, { id: ids[1] });
    const page = `query($after: String, $status: QueryStatus) {
      queries(first: 2, after: $after, status: $status) {
        totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id status } } } }`;

    const seen: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 5; pages++) {
      const { queries } = await reader.data(page, { after });
      expect(queries.totalCount).toBe(5);
      seen.push(...queries.edges.map((edge: any) => edge.node.id));
      expect(queries.pageInfo.endCursor).toBe(queries.edges.at(-1)?.cursor ?? null);
      if (!queries.pageInfo.hasNextPage) break;
      after = queries.pageInfo.endCursor;
    }
    const cancelled = (await reader.data(page, { status: 'CANCELLED' })).queries;

    expect(seen).toEqual([...ids].reverse());
    expect(cancelled).toMatchObject({
      totalCount: 1,
      pageInfo: { hasNextPage: false },
      edges: [{ node: { id: ids[1], status: 'CANCELLED' } }],
    });
    expect((await reader.errors('{ queries(after: "bogus") { totalCount } }'))[0].extensions.code).toBe('BAD_USER_INPUT');
    expect((await reader.errors('{ queries(first: 101) { totalCount } }'))[0].extensions.code).toBe('BAD_USER_INPUT');
  });
});

describe('bad input', () => {
  async function expectNothingStored<T>(work: () => Promise<T>): Promise<T> {
    const before = await countRows(db);
    const outcome = await work();
    await waitForIdleTransactions(db);
    expect(await countRows(db)).toEqual(before);

    return outcome;
  }

  it('should refuse an unauthenticated upload with 401 UNAUTHENTICATED', async () => {
    const response = await expectNothingStored(() => upload(api, {}, fakeModel(1000)));

    expect(response).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
  });

  it('should refuse a file that is no PyTorch model with 422 BAD_USER_INPUT', async () => {
    const response = await expectNothingStored(() => upload(api, client.credentials(), Buffer.from('name,age\nada,36\n')));

    expect(response.status).toBe(422);
    expect(response.body.error).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/not a PyTorch model/) });
  });

  it('should refuse a declared size over the limit with 413 PAYLOAD_TOO_LARGE before reading the body', async () => {
    const oversize = fakeModel(MAX_MODEL_BYTES + 1);

    const response = await expectNothingStored(() => abortedUpload(api, client.credentials(), oversize, 64 * 1024));

    expect(response.status).toBe(413);
  });

  it('should store nothing when the upload is cut off midway', async () => {
    const model = fakeModel(12 * 1024 * 1024);

    const response = await expectNothingStored(() => abortedUpload(api, client.credentials(), model, 5 * 1024 * 1024));

    expect(response.status).toBeUndefined();
    await eventually(async () => {
      expect(api.logs.some((line) => line.route === 'POST /uploads' && line.code === 'ABORTED')).toBe(true);
    });
  });

  it('should refuse bytes whose SHA-256 differs from X-Content-SHA256 with 400 BAD_USER_INPUT', async () => {
    const response = await expectNothingStored(() =>
      upload(api, client.credentials(), fakeModel(2 * 1024 * 1024), { 'x-content-sha256': sha256(Buffer.from('x')) }),
    );

    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/SHA-256 mismatch/) });
  });

  it('should refuse a body without Content-Length with 400 BAD_USER_INPUT', async () => {
    const model = fakeModel(1000);
    const response = await expectNothingStored(async () => {
      const stream = new ReadableStream({ start: (controller) => (controller.enqueue(model), controller.close()) });
      const answer = await fetch(`${api.url}/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'x-content-sha256': sha256(model), ...client.credentials() },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      return { status: answer.status, body: await answer.json() };
    });

    expect(response).toMatchObject({ status: 400, body: { error: { code: 'BAD_USER_INPUT' } } });
  });

  it('should refuse submitQuery without credentials, with an unknown upload, or with an upload already submitted', async () => {
    const uploaded = await upload(api, client.credentials(), fakeModel(1000, 51));
    const mutation = `mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { id } }`;
    const submit = (caller: GraphqlClient, uploadId: string) => caller.errors(mutation, { input: { uploadId, dataset: 'demo' } });

    const anonymous = await expectNothingStored(() => submit(new GraphqlClient(api.url), uploaded.body.id));
    const unknown = await expectNothingStored(() => submit(client, '00000000-0000-4000-8000-000000000000'));
    await client.data(mutation, { input: { uploadId: uploaded.body.id, dataset: 'demo' } });
    const twice = await expectNothingStored(() => submit(client, uploaded.body.id));

    expect(anonymous[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(unknown[0].extensions.code).toBe('NOT_FOUND');
    expect(twice[0].extensions.code).toBe('CONFLICT');
  });

  it('should refuse a replication no set of Data Owners can meet with FAILED_PRECONDITION and keep the upload', async () => {
    const uploaded = await upload(api, client.credentials(), fakeModel(1000, 61));

    const errors = await expectNothingStored(() =>
      client.errors(`mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { id } }`, {
        input: { uploadId: uploaded.body.id, dataset: 'demo', replication: 4 },
      }),
    );

    expect(errors[0].extensions.code).toBe('FAILED_PRECONDITION');
    expect(errors[0].message).toMatch(/needs as many active Data Owners/);
    const { rows } = await db.query(`SELECT "claimedAt" FROM "ModelUpload" WHERE id = $1`, [uploaded.body.id]);
    expect(rows[0].claimedAt).toBeNull();
  });

  it('should refuse a training spec a trainer cannot run with BAD_USER_INPUT', async () => {
    const uploaded = await upload(api, client.credentials(), fakeModel(1000, 71));

    const errors = await client.errors(`mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { id } }`, {
      input: { uploadId: uploaded.body.id, dataset: 'demo', training: { epochs: 0, learningRate: 50 } },
    });

    expect(errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(/learningRate/) });
  });
});
