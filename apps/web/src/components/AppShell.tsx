'use client';

// Header (skip link, navigation, who is signed in) and the main landmark every page renders into.
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import type { ReactNode } from 'react';

import { useSession } from '@/components/Providers';

const LINKS = [
  { href: '/queries', label: 'Queries' },
  { href: '/queries/new', label: 'New query' },
  { href: '/data-owners', label: 'Data owners' },
  { href: '/tokens', label: 'API tokens' },
];

function isCurrent(pathname: string, href: string): boolean {
  if (href === '/queries')
    return pathname === '/queries' || (pathname.startsWith('/queries/') && pathname !== '/queries/new');

  return pathname === href;
}

export function AppShell({ children }: { children: ReactNode }) {
  const pathname = usePathname();
  const { me, signOut } = useSession();

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="site-header">
        <div className="site-header-inner">
          <Link href={me ? '/queries' : '/'} className="brand">
            GDS <span className="brand-sub">GoodData System</span>
          </Link>
          {me && (
            <nav aria-label="Main">
              <ul className="nav-list">
                {LINKS.map((link) => (
                  <li key={link.href}>
                    <Link href={link.href} aria-current={isCurrent(pathname, link.href) ? 'page' : undefined}>
                      {link.label}
                    </Link>
                  </li>
                ))}
              </ul>
            </nav>
          )}
          <div className="account">
            {me ? (
              <>
                <span className="muted account-name" title={me.email ?? undefined}>
                  {me.name}
                </span>
                <button type="button" className="button button-quiet" onClick={() => void signOut()}>
                  Sign out
                </button>
              </>
            ) : (
              me === null && (
                <>
                  <Link href="/sign-in" aria-current={pathname === '/sign-in' ? 'page' : undefined}>
                    Sign in
                  </Link>
                  <Link href="/sign-up" className="button" aria-current={pathname === '/sign-up' ? 'page' : undefined}>
                    Sign up
                  </Link>
                </>
              )
            )}
          </div>
        </div>
      </header>
      <main id="main" className="site-main" tabIndex={-1}>
        {children}
      </main>
      <footer className="site-footer muted">
        GDS trains your model where the data lives and checks that the Data Owners agree.
      </footer>
    </>
  );
}
