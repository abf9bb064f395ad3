'use client';

// API tokens for integrators (GraphQL `Authorization: Bearer`) and the gRPC client: create one (shown once), revoke.
import { type FormEvent, useRef, useState } from 'react';

import { useLoad } from '@/components/hooks';
import { useGraphql } from '@/components/Providers';
import { CopyButton, ErrorNotice } from '@/components/ui';
import { formatDateTime } from '@/lib/format';
import { API_TOKENS, CREATE_API_TOKEN, REVOKE_API_TOKEN } from '@/lib/graphql/documents';
import type { ApiToken } from '@/lib/graphql/types';

export function TokensView() {
  const request = useGraphql();
  const tokens = useLoad(
    (signal) => request<{ apiTokens: ApiToken[] }>(API_TOKENS, {}, signal).then((d) => d.apiTokens),
    [request],
  );
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [confirmingId, setConfirmingId] = useState<string | null>(null);
  const form = useRef<HTMLFormElement>(null);

  const create = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const name = String(new FormData(event.currentTarget).get('token-name')).trim();
    if (!name) return;

    setError(null);
    try {
      const data = await request<{ createApiToken: { token: string; apiToken: ApiToken } }>(CREATE_API_TOKEN, { name });
      setCreated({ name, token: data.createApiToken.token });
      tokens.setData((current) => [data.createApiToken.apiToken, ...(current ?? [])]);
      form.current?.reset();
    } catch (caught) {
      setError(caught);
    }
  };

  const revoke = async (id: string) => {
    setError(null);
    try {
      const data = await request<{ revokeApiToken: ApiToken }>(REVOKE_API_TOKEN, { id });
      tokens.setData((current) => current?.map((t) => (t.id === id ? data.revokeApiToken : t)));
    } catch (caught) {
      setError(caught);
    } finally {
      setConfirmingId(null);
    }
  };

  return (
    <div className="stack">
      <h1>API tokens</h1>
      <p>
        A token lets a program act as you: send it as <code>Authorization: Bearer &lt;token&gt;</code> to the GraphQL
        API or the gRPC client. Treat it like a password.
      </p>

      <form ref={form} className="card form-inline" onSubmit={(event) => void create(event)}>
        <div className="field">
          <label htmlFor="token-name">Token name</label>
          <input id="token-name" name="token-name" required maxLength={100} placeholder="e.g. CI pipeline" />
        </div>
        <button type="submit" className="button">
          Create token
        </button>
      </form>
      <ErrorNotice error={error} />

      {created && (
        <div className="card notice-success stack-tight" role="status" data-testid="new-token">
          <p>
            <strong>Token “{created.name}” created.</strong> Copy it now: it is not shown again.
          </p>
          <p className="hash">
            <code className="break">{created.token}</code>
            <CopyButton text={created.token} label="Copy the new token" />
          </p>
          <p>
            <button type="button" className="button button-quiet" onClick={() => setCreated(null)}>
              Done
            </button>
          </p>
        </div>
      )}

      <ErrorNotice error={tokens.error} />
      {tokens.data?.length === 0 && <p className="muted">You have no tokens.</p>}
      {tokens.data && tokens.data.length > 0 && (
        <table className="table stacked" aria-label="Your API tokens">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Starts with</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {tokens.data.map((token) => (
              <tr key={token.id}>
                <th scope="row" data-label="Name">
                  {token.name}
                </th>
                <td data-label="Starts with">
                  <code>{token.prefix}…</code>
                </td>
                <td data-label="Created">{formatDateTime(token.createdAt)}</td>
                <td data-label="Last used">{token.lastUsedAt ? formatDateTime(token.lastUsedAt) : 'never'}</td>
                <td data-label="State">
                  {token.revokedAt ? (
                    <span className="muted">revoked {formatDateTime(token.revokedAt)}</span>
                  ) : confirmingId === token.id ? (
                    <span className="actions">
                      <button
                        type="button"
                        className="button button-small button-danger"
                        onClick={() => void revoke(token.id)}
                      >
                        Yes, revoke “{token.name}”
                      </button>
                      <button
                        type="button"
                        className="button button-small button-quiet"
                        onClick={() => setConfirmingId(null)}
                      >
                        Keep
                      </button>
                    </span>
                  ) : (
                    <button
                      type="button"
                      className="button button-small button-quiet"
                      onClick={() => setConfirmingId(token.id)}
                      aria-label={`Revoke token ${token.name}`}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
