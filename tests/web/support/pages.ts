// Page-level helpers for the portal tests: sign-up, uploads, screenshots, GraphQL and HTTP calls made from inside a
// signed-in page (so they carry that account's session cookie, as the portal's own requests do).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Page } from 'playwright-core';

import { REPO_ROOT } from '../../support/stack.js';

export const ARTIFACTS = join(REPO_ROOT, 'test-artifacts/web');

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Saves a full-page screenshot as test-artifacts/web/<name>.png; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });

  return path;
}

export interface Account {
  name: string;
  email: string;
  password: string;
}

export function newAccount(name: string): Account {
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

  return {
    name,
    email: `${name.toLowerCase().replace(/\W+/g, '.')}.${tag}@example.test`,
    password: `pw-${tag}-long-enough`,
  };
}

/** Fills the sign-up form by its labels and waits for the queries page. */
export async function signUp(page: Page, portalUrl: string, account: Account, shot?: string): Promise<void> {
  await page.goto(`${portalUrl}/sign-up`);
  await page.getByLabel('Name').fill(account.name);
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  if (shot) await screenshot(page, shot);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${portalUrl}/queries`);
}

/** Runs a GraphQL operation with the page's session; returns the raw response body. */
export function graphqlInPage(page: Page, apiUrl: string, query: string, variables: Record<string, unknown> = {}) {
  return page.evaluate(
    async ({ apiUrl, query, variables }) => {
      const response = await fetch(`${apiUrl}/graphql`, {
        method: 'POST',
        credentials: 'include',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      });

      return (await response.json()) as {
        data?: Record<string, any>;
        errors?: Array<{ message: string; extensions?: { code?: string } }>;
      };
    },
    { apiUrl, query, variables },
  );
}

/** GETs a URL of the API with the page's session; returns the status, the SHA-256 header and the body's hash. */
export function getInPage(page: Page, url: string) {
  return page.evaluate(async (url) => {
    const response = await fetch(url, { credentials: 'include' });
    const body = new Uint8Array(await response.arrayBuffer());
    const digest = await crypto.subtle.digest('SHA-256', body);
    const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');

    return {
      status: response.status,
      headerSha256: response.headers.get('x-content-sha256'),
      bodySha256: hex,
      size: body.length,
    };
  }, url);
}

/** Drops a file on the drop zone the way a browser does (a DataTransfer on a drop event). */
export async function dropFile(page: Page, name: string, bytes: Buffer): Promise<void> {
  await page.locator('.dropzone').evaluate(
    (zone, { name, data }) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(data)], name));
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    },
    { name, data: [...bytes] },
  );
}

/** Form controls on the page that have no accessible label (a <label>, aria-label or aria-labelledby). */
export function unlabelledControls(page: Page): Promise<string[]> {
  return page.$$eval('input:not([type=hidden]), select, textarea', (controls) =>
    controls
      .filter((control) => {
        const element = control as HTMLInputElement;

        return (
          !element.labels?.length && !element.getAttribute('aria-label') && !element.getAttribute('aria-labelledby')
        );
      })
      .map((control) => control.outerHTML.slice(0, 120)),
  );
}

/** Presses Tab until the element with `id` has focus; false when it is not reached in `maxTabs` presses. */
export async function tabTo(page: Page, id: string, maxTabs = 30): Promise<boolean> {
  await page.locator('body').focus();
  for (let i = 0; i < maxTabs; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((target) => document.activeElement?.id === target, id)) return true;
  }

  return false;
}
