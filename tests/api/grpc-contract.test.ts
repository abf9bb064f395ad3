// The gRPC service against a real Postgres and Redis: what each bad input gets, and that it changes nothing.
import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';

import { bearer, clientFor, closeClients, getExecutionInfo, sha256, submitQuery, TestDataOwner } from '../support/clients.js';
import { createCustomer, createTestDatabase, startApi, type RunningApi, type TestDatabase } from '../support/stack.js';

const DATASET_HASH = sha256(Buffer.from('the demo dataset'));
const MAX_MODEL_BYTES = 64 * 1024 * 1024;

/** Bytes the API accepts as a model container (a zip header); the API never looks further. */
function fakeModel(size: number): Buffer {
  const bytes = randomBytes(size);
  bytes.write('PK\x03\x04', 0, 'latin1');
  return bytes;
}

let db: TestDatabase;
let api: RunningApi;
let token: string;
let otherToken: string;
let owners: TestDataOwner[];
let outsider: TestDataOwner;

async function counts() {
  const { rows } = await db.query<{ blobs: string; chunks: string; queries: string }>(
    `SELECT (SELECT count(*) FROM "Blob") AS blobs, (SELECT count(*) FROM "BlobChunk") AS chunks,
            (SELECT count(*) FROM "Query") AS queries`,
  );
  return { blobs: Number(rows[0].blobs), chunks: Number(rows[0].chunks), queries: Number(rows[0].queries) };
}

/** Runs a call that must fail with `code`, and checks that it left no blob or query behind. */
async function expectRefused(code: status, call: () => Promise<unknown>, message?: RegExp) {
  const before = await counts();
  const error = (await call().then(
    () => {
      throw new Error('the call succeeded');
    },
    (e: unknown) => e,
  )) as { code: number; details: string };

  expect(status[error.code]).toBe(status[code]);
  if (message) expect(error.details).toMatch(message);
  await waitForIdleTransactions();
  expect(await counts()).toEqual(before);
}

/** A refused upload must also leave no open transaction holding rows in limbo. */
async function waitForIdleTransactions() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const { rows } = await db.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
    );
    if (rows[0].n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('a transaction stayed open');
}

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi(db.url, { GDS_MAX_MODEL_BYTES: String(MAX_MODEL_BYTES) });
  token = (await createCustomer(db.url, 'first')).token;
  otherToken = (await createCustomer(db.url, 'second')).token;

  owners = [new TestDataOwner(api.address), new TestDataOwner(api.address), new TestDataOwner(api.address)];
  for (const owner of owners) await owner.register([{ name: 'demo', contentHash: DATASET_HASH }]);
  outsider = new TestDataOwner(api.address);
  await outsider.register([{ name: 'other', contentHash: sha256(Buffer.from('other data')) }]);
});

afterAll(async () => {
  closeClients();
  await api?.stop();
  await db?.drop();
});

describe('SubmitQuery', () => {
  it('should store the model byte for byte and assign every Data Owner holding the dataset', async () => {
    const model = fakeModel(7 * 1024 * 1024 + 13);

    const response = await submitQuery(api.address, token, model);

    expect(response.assignedDataOwnerIds.sort()).toEqual(owners.map((o) => o.dataOwnerId).sort());
    expect(response.modelSha256).toBe(sha256(model));
    const { header, model: downloaded } = await owners[0].getQueryInfo(response.queryId);
    expect(downloaded.equals(model)).toBe(true);
    expect(header.modelSha256).toBe(sha256(model));
  });

  it('should refuse a call without a valid API token with UNAUTHENTICATED', async () => {
    await expectRefused(status.UNAUTHENTICATED, () => submitQuery(api.address, 'gds_' + 'x'.repeat(43), fakeModel(1000)));
  });

  it('should refuse a stream that ends before the declared size with INVALID_ARGUMENT', async () => {
    const model = fakeModel(5 * 1024 * 1024);

    await expectRefused(
      status.INVALID_ARGUMENT,
      () => submitQuery(api.address, token, model, { header: { modelSize: model.length + 100 } }),
      /ended after/,
    );
  });

  it('should store nothing when the client cancels mid-stream', async () => {
    const model = fakeModel(12 * 1024 * 1024);

    await expectRefused(status.CANCELLED, () => submitQuery(api.address, token, model, { cancelAfter: 3 }));
  });

  it('should refuse more bytes than declared with INVALID_ARGUMENT', async () => {
    const model = fakeModel(4 * 1024 * 1024);

    await expectRefused(
      status.INVALID_ARGUMENT,
      () => submitQuery(api.address, token, model, { header: { modelSize: 1024 * 1024 } }),
      /more than the declared/,
    );
  });

  it('should refuse bytes whose SHA-256 differs from the declared one with INVALID_ARGUMENT', async () => {
    await expectRefused(
      status.INVALID_ARGUMENT,
      () => submitQuery(api.address, token, fakeModel(100_000), { header: { modelSha256: sha256(Buffer.from('x')) } }),
      /SHA-256 mismatch/,
    );
  });

  it('should refuse bytes that are not a PyTorch model with INVALID_ARGUMENT', async () => {
    await expectRefused(
      status.INVALID_ARGUMENT,
      () => submitQuery(api.address, token, Buffer.from('this is not a model at all')),
      /not a PyTorch model/,
    );
  });

  it('should refuse a declared format the bytes cannot hold with INVALID_ARGUMENT', async () => {
    await expectRefused(
      status.INVALID_ARGUMENT,
      () => submitQuery(api.address, token, fakeModel(1000), { header: { modelFormat: 'MODEL_FORMAT_PICKLE' } }),
      /does not match/,
    );
  });

  it('should refuse a model over the size limit with RESOURCE_EXHAUSTED before reading it', async () => {
    await expectRefused(status.RESOURCE_EXHAUSTED, () =>
      submitQuery(api.address, token, fakeModel(1000), { header: { modelSize: MAX_MODEL_BYTES + 1 } }),
    );
  });

  it('should refuse a replication no set of Data Owners can meet with FAILED_PRECONDITION', async () => {
    await expectRefused(
      status.FAILED_PRECONDITION,
      () => submitQuery(api.address, token, fakeModel(1000), { header: { replication: 4 } }),
      /needs as many active Data Owners/,
    );
  });

  it('should refuse an unknown dataset name with NOT_FOUND', async () => {
    await expectRefused(status.NOT_FOUND, () => submitQuery(api.address, token, fakeModel(1000), { header: { dataset: 'nope' } }));
  });

  it('should refuse a training spec a trainer cannot run with INVALID_ARGUMENT', async () => {
    await expectRefused(
      status.INVALID_ARGUMENT,
      () =>
        submitQuery(api.address, token, fakeModel(1000), {
          header: { training: { epochs: 2, optimizer: 'rmsprop', loss: 'hinge' } },
        }),
      /optimizer.*loss/,
    );
  });

  it('should refuse chunks sent before the header with INVALID_ARGUMENT', async () => {
    await expectRefused(
      status.INVALID_ARGUMENT,
      () => submitQuery(api.address, token, Buffer.alloc(0), { messages: [{ chunk: fakeModel(10) }] }),
      /first message must be the header/,
    );
  });
});

describe('GetQueryInfo', () => {
  let queryId: string;

  beforeAll(async () => {
    queryId = (await submitQuery(api.address, token, fakeModel(2000))).queryId;
  });

  it('should answer NOT_FOUND for a query that does not exist', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';

    await expectRefused(status.NOT_FOUND, () => owners[0].getQueryInfo(missing));
  });

  it('should answer PERMISSION_DENIED to a Data Owner the query is not assigned to', async () => {
    await expectRefused(status.PERMISSION_DENIED, () => outsider.getQueryInfo(queryId), /not assigned/);
  });

  it('should answer UNAUTHENTICATED to a signature made by another key', async () => {
    const forged = owners[1].metadata('GetQueryInfo', queryId, (entries) => {
      entries['x-gds-key-id'] = owners[0].keyId;
    });

    await expectRefused(status.UNAUTHENTICATED, () => owners[0].getQueryInfo(queryId, forged), /bad signature/);
  });

  it('should answer UNAUTHENTICATED to a replayed signature', async () => {
    const metadata = owners[0].metadata('GetQueryInfo', queryId);
    await owners[0].getQueryInfo(queryId, metadata);

    await expectRefused(status.UNAUTHENTICATED, () => owners[0].getQueryInfo(queryId, metadata), /replayed/);
  });

  it('should answer UNAUTHENTICATED to a signature older than the window', async () => {
    const stale = owners[0].metadata('GetQueryInfo', queryId, (entries) => {
      entries['x-gds-timestamp'] = String(Date.now() - 120_000);
    });

    await expectRefused(status.UNAUTHENTICATED, () => owners[0].getQueryInfo(queryId, stale), /stale|bad signature/);
  });

  it('should answer PERMISSION_DENIED when the signed query id is not the requested one', async () => {
    const other = owners[0].metadata('GetQueryInfo', '00000000-0000-4000-8000-000000000001');

    await expectRefused(status.PERMISSION_DENIED, () => owners[0].getQueryInfo(queryId, other), /signed x-gds-query-id/);
  });
});

describe('QueryCompleted and GetQueryExecutionInfo', () => {
  let queryId: string;
  const result = fakeModel(4 * 1024 * 1024 + 5);

  beforeAll(async () => {
    queryId = (await submitQuery(api.address, token, fakeModel(3000))).queryId;
  });

  it('should refuse a result whose SHA-256 differs and leave the execution as it was', async () => {
    await expectRefused(status.INVALID_ARGUMENT, () =>
      owners[0].complete(queryId, result, { header: { resultSha256: sha256(Buffer.from('other')) } }),
    );

    const { info } = await getExecutionInfo(api.address, token, queryId);
    const mine = info.executions.find((e) => e.dataOwnerId === owners[0].dataOwnerId)!;
    expect(mine.status).toBe('EXECUTION_STATUS_ASSIGNED');
    expect(mine.resultSha256).toBe('');
  });

  it('should refuse an upload from a Data Owner the query is not assigned to with PERMISSION_DENIED', async () => {
    await expectRefused(status.PERMISSION_DENIED, () => outsider.complete(queryId, result));
  });

  it('should record progress, the result and its timings, and serve the result to its customer only', async () => {
    expect(await owners[0].reportProgress(queryId, 1, 3, 0.5)).toBe(true);
    const response = await owners[0].complete(queryId, result);
    expect(response.status).toBe('EXECUTION_STATUS_SUCCEEDED');

    const { info, result: downloaded } = await getExecutionInfo(api.address, token, queryId, response.executionId);
    expect(info.result!.sha256).toBe(sha256(result));
    expect(downloaded.equals(result)).toBe(true);
    const mine = info.executions.find((e) => e.executionId === response.executionId)!;
    expect(mine.progress).toMatchObject({ epoch: 1, totalEpochs: 3, loss: 0.5 });
    expect(mine.finishedAtNs).toBe('2');

    await expectRefused(status.NOT_FOUND, () => getExecutionInfo(api.address, otherToken, queryId, response.executionId));
  });

  it('should answer ALREADY_EXISTS to a second upload of the same execution', async () => {
    await expectRefused(status.ALREADY_EXISTS, () => owners[0].complete(queryId, result));
  });

  it('should record a reported failure and hand the query to the consistency check once every execution is done', async () => {
    await owners[1].complete(queryId, { code: 'CLASS_NOT_FOUND', message: 'cannot resolve __main__.Net' });
    await owners[2].complete(queryId, result);

    const { info } = await getExecutionInfo(api.address, token, queryId);
    expect(info.status).toBe('QUERY_STATUS_VERIFYING');
    const failed = info.executions.find((e) => e.dataOwnerId === owners[1].dataOwnerId)!;
    expect(failed).toMatchObject({ status: 'EXECUTION_STATUS_FAILED', error: { code: 'CLASS_NOT_FOUND' } });
    expect(await owners[1].reportProgress(queryId, 2, 3, 0.1)).toBe(false);
  });

  it('should list the service events of the query in order on its timeline, for its customer only', async () => {
    const timeline = await new Promise<{ entries: Array<{ kind: string; source: string; dataOwnerId: string }> }>((resolve, reject) =>
      clientFor(api.address).GetQueryTimeline({ queryId }, bearer(token), (error, response) => (error ? reject(error) : resolve(response!))),
    );

    const kinds = timeline.entries.map((entry) => entry.kind);
    expect(kinds[0]).toBe('query.submitted');
    expect(kinds).toEqual(expect.arrayContaining(['execution.succeeded', 'execution.failed', 'query.verifying']));
    expect(timeline.entries.every((entry) => entry.source === 'service')).toBe(true);
    await expectRefused(status.NOT_FOUND, () =>
      new Promise((resolve, reject) =>
        clientFor(api.address).GetQueryTimeline({ queryId }, bearer(otherToken), (error, r) => (error ? reject(error) : resolve(r))),
      ),
    );
  });

  it('should answer FAILED_PRECONDITION when asked for the result of an execution that has none', async () => {
    const { info } = await getExecutionInfo(api.address, token, queryId);
    const failed = info.executions.find((e) => e.status === 'EXECUTION_STATUS_FAILED')!;

    await expectRefused(status.FAILED_PRECONDITION, () => getExecutionInfo(api.address, token, queryId, failed.executionId));
  });
});

describe('RegisterDataOwner and WatchAssignments', () => {
  it('should refuse a registration whose key id does not match its public key with UNAUTHENTICATED', async () => {
    const impostor = new TestDataOwner(api.address);

    await expect(
      impostor.register([{ name: 'demo', contentHash: DATASET_HASH }], 'impostor', (entries) => {
        entries['x-gds-public-key'] = Buffer.from(owners[0].key.export({ format: 'der', type: 'pkcs8' })).subarray(-32).toString('base64');
      }),
    ).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
  });

  it('should refuse a dataset hash that is not SHA-256 hex with INVALID_ARGUMENT', async () => {
    await expect(new TestDataOwner(api.address).register([{ name: 'demo', contentHash: 'abc' }])).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
  });

  it('should send a Data Owner its pending assignments, then new ones as they are made', async () => {
    const late = new TestDataOwner(api.address);
    const hash = sha256(Buffer.from('late dataset'));
    await late.register([{ name: 'late', contentHash: hash }]);

    const first = await submitQuery(api.address, token, fakeModel(500), { header: { dataset: 'late', replication: 1 } });
    const watching = late.watch(2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await submitQuery(api.address, token, fakeModel(600), { header: { dataset: `sha256:${hash}`, replication: 1 } });

    const assignments = await watching;
    expect(assignments.map((a) => a.queryId)).toEqual([first.queryId, second.queryId]);
  });
});
