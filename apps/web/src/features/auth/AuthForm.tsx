'use client';

// Sign-up and sign-in: the API sets the HTTP-only session cookie; the portal never sees it.
import Link from 'next/link';
import { useRouter, useSearchParams } from 'next/navigation';
import { type FormEvent, useState } from 'react';

import { useConfig, useSession } from '@/components/Providers';
import { ErrorNotice } from '@/components/ui';
import { ApiError } from '@/lib/errors';
import { SIGN_IN, SIGN_UP } from '@/lib/graphql/documents';
import { graphqlRequest } from '@/lib/graphql/request';
import type { Customer } from '@/lib/graphql/types';

export const MIN_PASSWORD_LENGTH = 10;

/** Where to go after signing in: a path of this portal only (never another site). */
export function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/queries';
}

export function AuthForm({ mode }: { mode: 'sign-in' | 'sign-up' }) {
  const { apiUrl } = useConfig();
  const { setMe } = useSession();
  const router = useRouter();
  const next = safeNext(useSearchParams().get('next'));
  const [error, setError] = useState<unknown>(null);
  const [isBusy, setBusy] = useState(false);
  const isSignUp = mode === 'sign-up';

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const input = {
      ...(isSignUp ? { name: String(form.get('name')).trim() } : {}),
      email: String(form.get('email')).trim(),
      password: String(form.get('password')),
    };

    setBusy(true);
    setError(null);
    try {
      const data = await graphqlRequest<{ signUp?: Customer; signIn?: Customer }>(
        apiUrl,
        isSignUp ? SIGN_UP : SIGN_IN,
        { input },
      );
      setMe((data.signUp ?? data.signIn)!);
      router.push(next);
    } catch (caught) {
      const wrongCredentials = caught instanceof ApiError && caught.code === 'UNAUTHENTICATED' && !isSignUp;
      setError(wrongCredentials ? new Error('The email or password is not right.') : caught);
      setBusy(false);
    }
  };

  return (
    <div className="stack narrow">
      <h1>{isSignUp ? 'Create an account' : 'Sign in'}</h1>
      <form className="card form" onSubmit={(event) => void submit(event)} aria-describedby="auth-error">
        {isSignUp && (
          <div className="field">
            <label htmlFor="name">Name</label>
            <input id="name" name="name" autoComplete="name" required maxLength={200} />
          </div>
        )}
        <div className="field">
          <label htmlFor="email">Email</label>
          <input id="email" name="email" type="email" autoComplete="email" required />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete={isSignUp ? 'new-password' : 'current-password'}
            required
            minLength={isSignUp ? MIN_PASSWORD_LENGTH : undefined}
            aria-describedby={isSignUp ? 'password-hint' : undefined}
          />
          {isSignUp && (
            <p id="password-hint" className="hint">
              At least {MIN_PASSWORD_LENGTH} characters.
            </p>
          )}
        </div>
        <div id="auth-error">
          <ErrorNotice error={error} />
        </div>
        <button type="submit" className="button" disabled={isBusy}>
          {isBusy ? 'Please wait…' : isSignUp ? 'Create account' : 'Sign in'}
        </button>
      </form>
      <p>
        {isSignUp ? (
          <>
            Already have an account? <Link href={`/sign-in?next=${encodeURIComponent(next)}`}>Sign in</Link>
          </>
        ) : (
          <>
            New to GDS? <Link href={`/sign-up?next=${encodeURIComponent(next)}`}>Create an account</Link>
          </>
        )}
      </p>
    </div>
  );
}
