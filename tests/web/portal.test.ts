// The portal in a real browser against the real stack: Debian's Chromium (driven by playwright-core), `next start`,
// the API (GraphQL, uploads, downloads, gRPC), the consistency worker, three Data Owner agents, Postgres and Redis.
// Screenshots of every page go to test-artifacts/web/.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';

import { createAgent, type TestAgent } from '../support/agents.js';
import { createTestDatabase, PYTHON, REPO_ROOT, runPython, type TestDatabase } from '../support/stack.js';
import {
  buildPortal,
  freePort,
  launchBrowser,
  startHttpApi,
  startPortal,
  startWorker,
  type RunningHttpApi,
  type RunningProcess,
} from './support/portal.js';
import {
  type Account,
  ARTIFACTS,
  dropFile,
  getInPage,
  graphqlInPage,
  newAccount,
  screenshot,
  sha256File,
  signUp,
  tabTo,
  unlabelledControls,
} from './support/pages.js';

const MIB = 1024 * 1024;
/** The API refuses models above this in this test, so that a "too large" answer comes from the server. */
const SERVER_MAX_MODEL_BYTES = 2 * MIB;
const FINISHED = ['COMPLETED', 'FAILED', 'CANCELLED'];
const STATUS = '.page-head-status [data-status]';

let db: TestDatabase;
let api: RunningHttpApi;
let worker: RunningProcess | undefined;
let portal: RunningProcess;
let browser: Browser;
let folder: string;
let modelPath: string;
const agents: TestAgent[] = [];

const alice: Account = newAccount('Alice QC');
let aliceContext: BrowserContext;
let alicePage: Page;
let completedQueryId: string;

beforeAll(async () => {
  buildPortal();
  folder = mkdtempSync(join(tmpdir(), 'gds-web-'));
  const csvPath = join(folder, 'demo.csv');
  modelPath = join(folder, 'seed-toy-model.pt');
  await runPython('gds_ml.demo_data', ['--out', csvPath, '--rows', '256', '--seed', '7']);
  await runPython('gds_ml.fixtures', ['--kind', 'torch_save', '--out', modelPath, '--seed', '3']);

  db = await createTestDatabase();
  const webPort = await freePort();
  api = await startHttpApi(db.url, `http://localhost:${webPort}`, {
    GDS_MAX_MODEL_BYTES: String(SERVER_MAX_MODEL_BYTES),
  });
  worker = await startWorker(db.url);
  for (const name of ['do-a', 'do-b', 'do-c']) {
    agents.push(
      await createAgent({ address: api.grpcAddress, folder: join(folder, name), name, datasetPath: csvPath }),
    );
  }
  agents.forEach((agent) => agent.start());
  portal = await startPortal(api.url, webPort);
  browser = await launchBrowser();

  aliceContext = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  alicePage = await aliceContext.newPage();
  recordBrowserLog(alicePage, 'alice');
}, 300_000);

afterAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, 'browser.log'), browserLog.join('\n'));
  if (api) writeFileSync(join(ARTIFACTS, 'api.log'), api.jsonLogs.map((line) => JSON.stringify(line)).join('\n'));
  if (portal) writeFileSync(join(ARTIFACTS, 'portal.log'), portal.logs.join('\n'));
  if (worker) writeFileSync(join(ARTIFACTS, 'worker.log'), worker.logs.join('\n'));
  await browser?.close();
  await portal?.stop();
  await Promise.all(agents.map((agent) => agent.stop()));
  await worker?.stop();
  await api?.stop();
  await db?.drop();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

const browserLog: string[] = [];

/** Keeps what the page logs and which requests failed, for test-artifacts/web/browser.log. */
function recordBrowserLog(page: Page, who: string): void {
  page.on('console', (message) => browserLog.push(`${who} console.${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => browserLog.push(`${who} pageerror: ${error.stack ?? error.message}`));
  page.on('requestfailed', (request) =>
    browserLog.push(`${who} requestfailed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`),
  );
}

/** Uploads a model on the New-query page and waits until the server's SHA-256 is shown; returns it. */
async function uploadModel(page: Page, path: string): Promise<{ local: string; server: string }> {
  await page.goto(`${portal.url}/queries/new`);
  await page.locator('#model-file').setInputFiles(path);
  await page.getByTestId('server-sha256').locator('code').waitFor({ timeout: 30_000 });

  return {
    local: (await page.getByTestId('local-sha256').locator('code').textContent())!,
    server: (await page.getByTestId('server-sha256').locator('code').textContent())!,
  };
}

/** Fills the training spec and submits; returns the new query's id from the URL it lands on. */
async function submitQuery(
  page: Page,
  training: { epochs: number; batchSize: number; learningRate: string; seed: string },
): Promise<string> {
  await page.locator('#dataset option[value="demo"]').waitFor({ state: 'attached' });
  await page.getByLabel('Dataset').selectOption('demo');
  await page.getByLabel('Epochs').fill(String(training.epochs));
  await page.getByLabel('Batch size').fill(String(training.batchSize));
  await page.getByLabel('Learning rate').fill(training.learningRate);
  await page.getByLabel('Seed').fill(training.seed);
  await page.getByRole('button', { name: 'Submit query' }).click();
  await page.waitForURL(/\/queries\/[0-9a-f-]{36}$/);

  return page.url().split('/').pop()!;
}

async function waitForStatus(page: Page, statuses: string[], timeoutMs: number): Promise<string> {
  const selector = statuses.map((status) => `${STATUS}[data-status="${status}"]`).join(', ');
  await page
    .locator(selector)
    .first()
    .waitFor({ timeout: timeoutMs })
    .catch(async (error: Error) => {
      const current = await page
        .locator(STATUS)
        .getAttribute('data-status')
        .catch(() => null);
      const hint = current === 'VERIFYING' ? ' (the consistency worker did not finish the check: see worker.log)' : '';
      throw new Error(
        `the query is ${current ?? 'not shown'} after ${timeoutMs} ms, expected ${statuses.join('|')}${hint}: ${error.message}`,
      );
    });

  return (await page.locator(STATUS).getAttribute('data-status'))!;
}

describe('the portal, in a browser, against the real stack', () => {
  it('should let a new customer upload the seed model, watch three Data Owners train it live, and download the verified result', async () => {
    const page = alicePage;
    await page.goto(portal.url);
    await screenshot(page, '01-home');

    await signUp(page, portal.url, alice, '02-sign-up');
    await page.getByText('You have no queries yet.').waitFor();
    await screenshot(page, '03-queries-empty');

    // Every control is labelled, and the drop zone's file input is reachable with the keyboard.
    await page.goto(`${portal.url}/queries/new`);
    await page.locator('#dataset option[value="demo"]').waitFor({ state: 'attached' });
    expect(await unlabelledControls(page)).toEqual([]);
    expect(await tabTo(page, 'model-file')).toBe(true);

    const hashes = await uploadModel(page, modelPath);
    expect(hashes.local).toBe(sha256File(modelPath));
    expect(hashes.server).toBe(hashes.local);
    await screenshot(page, '04-new-query-uploaded');

    completedQueryId = await submitQuery(page, { epochs: 4, batchSize: 16, learningRate: '0.1', seed: '11' });
    await page.locator('tr[data-execution-id]').nth(2).waitFor();
    await screenshot(page, '05-query-live');

    const status = await waitForStatus(page, FINISHED, 240_000);
    expect(status).toBe('COMPLETED');
    // The page followed the query over graphql-ws: it counts the updates the subscription delivered.
    expect(Number(await page.locator('.page-head-status').getAttribute('data-live-updates'))).toBeGreaterThan(0);
    const rows = page.locator('tr[data-execution-id]');
    expect(await rows.count()).toBe(3);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-status')))).toEqual(
      Array(3).fill('SUCCEEDED'),
    );
    expect(await page.getByTestId('verdict').locator('[data-status]').getAttribute('data-status')).toBe('CONSISTENT');
    expect(await page.getByTestId('outliers').textContent()).toContain('No outliers');
    const curves = await page
      .locator('.chart-series path')
      .evaluateAll((paths) => paths.map((p) => p.getAttribute('d') ?? ''));
    expect(curves).toHaveLength(3);
    expect(curves.every((d) => d.split('L').length === 4)).toBe(true);
    expect(await page.getByTestId('load-snippet').textContent()).toContain(
      `model.load_state_dict(torch.load("${completedQueryId}-state_dict.pt"))`,
    );
    await screenshot(page, '06-query-completed');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-result').click()]);
    expect(download.suggestedFilename()).toBe(`${completedQueryId}-state_dict.pt`);
    const saved = join(folder, download.suggestedFilename());
    await download.saveAs(saved);

    const { data } = await graphqlInPage(
      page,
      api.url,
      'query($id: ID!) { query(id: $id) { report { canonicalSha256 canonicalExecutionId } executions { id resultSha256 } } }',
      {
        id: completedQueryId,
      },
    );
    const { report, executions } = data!.query;
    expect(sha256File(saved)).toBe(report.canonicalSha256);
    expect(executions.find((e: { id: string }) => e.id === report.canonicalExecutionId).resultSha256).toBe(
      report.canonicalSha256,
    );

    // The snippet the page shows works on the downloaded file.
    const loaded = await promisify(execFile)(
      PYTHON,
      [
        '-c',
        'import sys, torch\nfrom gds_ml.demo_models import Net\nmodel = Net()\nprint(model.load_state_dict(torch.load(sys.argv[1])))\nmodel.eval()',
        saved,
      ],
      { env: { ...process.env, PYTHONPATH: join(REPO_ROOT, 'python') } },
    );
    expect(loaded.stdout).toContain('All keys matched successfully');

    await page.setViewportSize({ width: 360, height: 800 });
    await page.reload();
    await waitForStatus(page, ['COMPLETED'], 15_000);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await screenshot(page, '07-query-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  }, 360_000);

  it('should list the query with its verdict, and show the data owners, datasets and API tokens pages', async () => {
    const page = alicePage;
    await page.goto(`${portal.url}/queries`);
    const row = page.locator(`tr[data-query-id="${completedQueryId}"]`);
    await row.locator('[data-status="COMPLETED"]').waitFor();
    await row.locator('[data-status="CONSISTENT"]').waitFor();
    await screenshot(page, '08-queries-list');

    await page.getByRole('link', { name: 'Data owners' }).click();
    await page.getByRole('table', { name: 'Data owners' }).waitFor();
    for (const name of ['do-a', 'do-b', 'do-c']) {
      expect(await page.getByRole('table', { name: 'Data owners' }).getByRole('rowheader', { name }).count()).toBe(1);
    }
    expect(
      await page.getByRole('table', { name: 'Datasets' }).getByRole('row', { name: /demo/ }).textContent(),
    ).toContain('(3)');
    await screenshot(page, '09-data-owners');

    await page.getByRole('link', { name: 'API tokens' }).click();
    await page.getByLabel('Token name').waitFor();
    expect(await unlabelledControls(page)).toEqual([]);
    await page.getByLabel('Token name').fill('notebook');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = (await page.getByTestId('new-token').locator('code').textContent())!;
    expect(token.length).toBeGreaterThan(20);
    await screenshot(page, '10-tokens');
    // The token works for an integrator: GraphQL with a bearer token and no cookie.
    const asIntegrator = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ me { email } }' }),
    }).then((response) => response.json());
    expect(asIntegrator.data.me.email).toBe(alice.email);

    await page.getByRole('button', { name: 'Revoke token notebook' }).click();
    await page.getByRole('button', { name: 'Yes, revoke “notebook”' }).click();
    await page.getByText(/^revoked /).waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/sign-in/);
    await page.goto(`${portal.url}/queries`);
    await page.waitForURL(/\/sign-in\?next=%2Fqueries$/);
    await page.getByLabel('Email').fill(alice.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('The email or password is not right.').waitFor();
    await page.getByLabel('Password').fill(alice.password);
    await screenshot(page, '11-sign-in');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${portal.url}/queries`);
  }, 120_000);

  it('should say why a file is refused: not a model (in the browser), too large (by the server), or cancelled', async () => {
    const page = alicePage;
    const uploadsBefore = await db.query('SELECT count(*)::int AS n FROM "ModelUpload"');
    await page.goto(`${portal.url}/queries/new`);

    await dropFile(page, 'notes.txt', Buffer.from('these are my notes, not a model\n'));
    expect(await page.getByTestId('upload-error').textContent()).toContain('not a PyTorch model');
    await screenshot(page, '12-upload-not-a-model');

    await page.getByRole('button', { name: 'Choose another file' }).click();
    const tooLarge = Buffer.alloc(SERVER_MAX_MODEL_BYTES + MIB, 7);
    tooLarge.set([0x80, 0x04, 0x95]);
    await page
      .locator('#model-file')
      .setInputFiles({ name: 'huge.pkl', mimeType: 'application/octet-stream', buffer: tooLarge });
    await page.getByTestId('upload-error').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('upload-error').textContent()).toMatch(/too large/i);
    await screenshot(page, '13-upload-too-large');

    // Slow the browser's uploads down so that the cancel button can be pressed halfway.
    const cdp = await aliceContext.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 256 * 1024,
    });
    await page.getByRole('button', { name: 'Choose another file' }).click();
    const slow = Buffer.alloc(MIB + MIB / 2, 1);
    slow.set([0x80, 0x04, 0x95]);
    await page
      .locator('#model-file')
      .setInputFiles({ name: 'slow.pkl', mimeType: 'application/octet-stream', buffer: slow });
    await page.getByText('Step 2 of 2: uploading…').waitFor();
    await screenshot(page, '14-upload-in-progress');
    await page.getByRole('button', { name: 'Cancel upload' }).click();
    await page.getByText('Upload cancelled. Nothing was stored.').waitFor();
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    await cdp.detach();

    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const uploadsAfter = await db.query('SELECT count(*)::int AS n FROM "ModelUpload"');
    expect(uploadsAfter.rows[0].n).toBe(uploadsBefore.rows[0].n);
  }, 120_000);

  it("should keep one account's queries from another: not listed, not shown, not downloadable, not cancellable", async () => {
    const hashes = await uploadModel(alicePage, modelPath);
    expect(hashes.server).toBe(hashes.local);
    const runningId = await submitQuery(alicePage, { epochs: 10_000, batchSize: 1, learningRate: '0.001', seed: '5' });
    await waitForStatus(alicePage, ['RUNNING'], 60_000);

    const bobContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const bob = await bobContext.newPage();
    recordBrowserLog(bob, 'bob');
    try {
      await signUp(bob, portal.url, newAccount('Bob QC'));
      await bob.getByText('You have no queries yet.').waitFor();
      expect(await bob.locator(`tr[data-query-id="${completedQueryId}"]`).count()).toBe(0);

      await bob.goto(`${portal.url}/queries/${completedQueryId}`);
      await bob.getByRole('heading', { name: 'Query not found' }).waitFor();
      await screenshot(bob, '15-other-account-query');

      const read = await graphqlInPage(bob, api.url, 'query($id: ID!) { query(id: $id) { id status } }', {
        id: completedQueryId,
      });
      expect(read.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      expect(read.data?.query ?? null).toBeNull();

      const stolen = await getInPage(bob, `${api.url}/queries/${completedQueryId}/result`);
      expect(stolen.status).toBe(404);
      const own = await getInPage(alicePage, `${api.url}/queries/${completedQueryId}/result`);
      expect(own.status).toBe(200);
      expect(own.bodySha256).toBe(own.headerSha256);

      const cancel = await graphqlInPage(bob, api.url, 'mutation($id: ID!) { cancelQuery(id: $id) { id status } }', {
        id: runningId,
      });
      expect(cancel.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      const afterward = await graphqlInPage(alicePage, api.url, 'query($id: ID!) { query(id: $id) { status } }', {
        id: runningId,
      });
      expect(['PENDING', 'RUNNING']).toContain(afterward.data!.query.status);
    } finally {
      await bobContext.close();
    }

    // The owner can cancel it, from the query page.
    await alicePage.getByRole('button', { name: 'Cancel query' }).click();
    await alicePage.getByRole('button', { name: 'Yes, cancel it' }).click();
    expect(await waitForStatus(alicePage, ['CANCELLED'], 30_000)).toBe('CANCELLED');
    await screenshot(alicePage, '16-query-cancelled');
    expect(readFileSync(join(folder, `${completedQueryId}-state_dict.pt`)).length).toBeGreaterThan(0);
  }, 240_000);
});
