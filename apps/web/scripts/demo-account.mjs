// What `npm run demo` needs to leave something to look at in the portal: an account that can sign in, and a query
// submitted as that account (so it shows in its list), through the same HTTP API the portal uses. Node built-ins
// and fetch only.
//
//   const session = await ensureAccount({ apiUrl, name: 'Demo QC', email: 'demo@gds.local', password: '...' });
//   const upload = await uploadModel({ apiUrl, session, path: 'model.pt' });
//   const query = await submitQuery({ apiUrl, session, uploadId: upload.id, dataset: 'demo', name: 'Seed toy model' });
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';

async function graphql(apiUrl, session, query, variables) {
  const headers = { 'content-type': 'application/json' };
  if (session?.cookie) headers.cookie = session.cookie;
  const response = await fetch(`${apiUrl}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  const cookie = response.headers.get('set-cookie')?.split(';')[0];

  return { body, cookie };
}

function failure(operation, body) {
  const error = body.errors?.[0];

  return Object.assign(new Error(`${operation}: ${error?.message ?? 'no data'}`), { code: error?.extensions?.code });
}

/**
 * Signs the account up, or in when it exists already (a second demo run). Returns { cookie, customer }, the
 * session to pass to the other functions.
 */
export async function ensureAccount({ apiUrl, name, email, password }) {
  const fields = 'id name email';
  const up = await graphql(apiUrl, null, `mutation($i: SignUpInput!) { signUp(input: $i) { ${fields} } }`, {
    i: { name, email, password },
  });
  if (up.body.data?.signUp) return { cookie: up.cookie, customer: up.body.data.signUp };
  if (up.body.errors?.[0]?.extensions?.code !== 'CONFLICT') throw failure('signUp', up.body);

  const inn = await graphql(apiUrl, null, `mutation($i: SignInInput!) { signIn(input: $i) { ${fields} } }`, {
    i: { email, password },
  });
  if (!inn.body.data?.signIn) throw failure('signIn', inn.body);

  return { cookie: inn.cookie, customer: inn.body.data.signIn };
}

async function sha256OfFile(path) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk);

  return hash.digest('hex');
}

/** POST /uploads of a model file, streamed from disk; returns the API's record { id, sha256, size, modelFormat }. */
export async function uploadModel({ apiUrl, session, path }) {
  const { size } = await stat(path);
  const response = await fetch(`${apiUrl}/uploads`, {
    method: 'POST',
    headers: {
      cookie: session.cookie,
      'content-type': 'application/octet-stream',
      'content-length': String(size),
      'x-content-sha256': await sha256OfFile(path),
      'x-file-name': encodeURIComponent(basename(path)),
    },
    body: Readable.toWeb(createReadStream(path)),
    duplex: 'half',
  });
  const body = await response.json();
  if (response.status !== 201)
    throw Object.assign(new Error(`upload: ${body.error?.message ?? response.status}`), { code: body.error?.code });

  return body;
}

/** submitQuery as the session's account; returns { id, status }. `training` uses the contract's enum spellings. */
export async function submitQuery({ apiUrl, session, uploadId, dataset, name, replication, training }) {
  const input = { uploadId, dataset, name, replication, training };
  const { body } = await graphql(
    apiUrl,
    session,
    'mutation($i: SubmitQueryInput!) { submitQuery(input: $i) { id status } }',
    { i: input },
  );
  if (!body.data?.submitQuery) throw failure('submitQuery', body);

  return body.data.submitQuery;
}

/** createApiToken as the session's account: the Python SDK then acts as the same customer. Returns the token. */
export async function createApiToken({ apiUrl, session, name }) {
  const { body } = await graphql(apiUrl, session, 'mutation($n: String!) { createApiToken(name: $n) { token } }', { n: name });
  if (!body.data?.createApiToken) throw failure('createApiToken', body);

  return body.data.createApiToken.token;
}
