// Accounts, Data Owners and queries for the GraphQL tests, made through the public interfaces.
import { randomBytes } from 'node:crypto';

import type { Client } from 'graphql-ws';

import { TestDataOwner } from '../../support/clients.js';
import type { TestDatabase } from '../../support/stack.js';
import { GraphqlClient, sha256, upload, type HttpApi } from './api.js';

export const DATASET_HASH = sha256(Buffer.from('the demo dataset'));
export const PASSWORD = 'correct horse battery';

export const QUERY_FIELDS = `
  id name status createdAt updatedAt deadlineAt datasetHash datasetName replication quorum tolerance
  training { epochs batchSize optimizer learningRate loss seed momentum }
  modelFormat modelSha256 modelSize resultDownloadUrl
  executions {
    id dataOwnerId dataOwnerName status assignedAtNs startedAtNs finishedAtNs
    progress { epoch totalEpochs loss reportedAt }
    lossCurve { epoch totalEpochs loss reportedAt }
    resultSha256 resultSize error { code message } accepted rejectionReason
  }
  report { verdict canonicalExecutionId canonicalSha256 quorum tolerance verifiedAt
    entries { executionId dataOwnerId resultSha256 accepted maxAbsDiff relativeL2 reason } }
  timeline { at source kind executionId dataOwnerId txHash blockNumber status detail }
`;

/** A new portal account, signed in with its session cookie. */
export async function signUp(api: HttpApi, name = 'customer'): Promise<GraphqlClient> {
  const client = new GraphqlClient(api.url);
  const email = `${name}-${randomBytes(4).toString('hex')}@example.com`;
  await client.data(`mutation($input: SignUpInput!) { signUp(input: $input) { id } }`, {
    input: { name, email, password: PASSWORD },
  });

  return client;
}

/** An API token of the client's account, for bearer calls and gRPC. */
export async function createToken(client: GraphqlClient, name = 'integration'): Promise<string> {
  const data = await client.data(`mutation($name: String!) { createApiToken(name: $name) { token } }`, { name });

  return data.createApiToken.token;
}

export async function registerOwners(grpcAddress: string, count: number): Promise<TestDataOwner[]> {
  const owners = Array.from({ length: count }, () => new TestDataOwner(grpcAddress));
  for (const [index, owner] of owners.entries()) {
    await owner.register([{ name: 'demo', contentHash: DATASET_HASH }], `owner-${index}`);
  }

  return owners;
}

/** Uploads the model, then submits it; returns the query as GraphQL shows it. */
export async function submitModel(api: HttpApi, client: GraphqlClient, model: Buffer, input: Record<string, unknown> = {}) {
  const uploaded = await upload(api, client.credentials(), model, { 'x-file-name': encodeURIComponent('model.pt') });
  if (uploaded.status !== 201) throw new Error(`upload failed: ${JSON.stringify(uploaded.body)}`);
  const data = await client.data(`mutation($input: SubmitQueryInput!) { submitQuery(input: $input) { ${QUERY_FIELDS} } }`, {
    input: {
      uploadId: uploaded.body.id,
      dataset: 'demo',
      replication: 3,
      training: { epochs: 3, batchSize: 16, optimizer: 'ADAM', learningRate: 0.05, loss: 'MSE', seed: '18446744073709551615' },
      ...input,
    },
  });

  return data.submitQuery;
}

export async function countRows(db: TestDatabase) {
  const { rows } = await db.query<Record<string, string>>(
    `SELECT (SELECT count(*) FROM "Blob") AS blobs, (SELECT count(*) FROM "BlobChunk") AS chunks,
            (SELECT count(*) FROM "ModelUpload") AS uploads, (SELECT count(*) FROM "Query") AS queries`,
  );

  return Object.fromEntries(Object.entries(rows[0]).map(([key, value]) => [key, Number(value)]));
}

/** A refused or cut upload must leave no transaction open either (a blob half written in limbo). */
export async function waitForIdleTransactions(db: TestDatabase): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const { rows } = await db.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND (state LIKE 'idle in transaction%' OR query LIKE 'COPY%')`,
    );
    if (rows[0].n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('a transaction stayed open');
}

/**
 * Marks a query verified in the database, as the worker's consistency check would: the worker is another
 * engineer's process and not started by these tests, so its outcome is written directly with SQL.
 */
export async function markVerified(
  db: TestDatabase,
  queryId: string,
  canonicalExecutionId: string,
  entries: object[],
): Promise<void> {
  const report = {
    verdict: 'VERDICT_CONSISTENT',
    canonicalExecutionId,
    quorum: 2,
    tolerance: 1e-5,
    entries,
    verifiedAtNs: String(BigInt(Date.now()) * 1_000_000n),
  };
  await db.query(
    `UPDATE "Query" SET status = 'COMPLETED', verdict = 'CONSISTENT', "canonicalExecutionId" = $2, report = $3,
            "verifiedAt" = now(), "updatedAt" = now() WHERE id = $1`,
    [queryId, canonicalExecutionId, JSON.stringify(report)],
  );
}

export interface Subscription {
  events: any[];
  errors: unknown[];
  completed: Promise<void>;
  stop(): void;
}

/** Runs a subscription and collects what arrives. */
export function subscribe(client: Client, query: string, variables: Record<string, unknown> = {}): Subscription {
  const events: any[] = [];
  const errors: unknown[] = [];
  let complete!: () => void;
  const completed = new Promise<void>((resolve) => (complete = resolve));
  const stop = client.subscribe(
    { query, variables },
    {
      next: (value) => events.push(value),
      error: (error) => {
        errors.push(error);
        complete();
      },
      complete,
    },
  );

  return { events, errors, completed, stop };
}
