// The root layout, rendered per request so that the API address comes from the environment `next start` runs in.
import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';

import { AppShell } from '@/components/AppShell';
import { Providers } from '@/components/Providers';
import { readPortalConfig } from '@/lib/config';

import './globals.css';

export const dynamic = 'force-dynamic';

export const metadata: Metadata = {
  title: { default: 'GDS portal', template: '%s · GDS' },
  description: 'Send your PyTorch model to the data, get back weights that the Data Owners agree on.',
};

export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

export default function RootLayout({ children }: { children: ReactNode }) {
  const config = readPortalConfig();

  return (
    <html lang="en">
      <body>
        <Providers config={config}>
          <AppShell>{children}</AppShell>
        </Providers>
      </body>
    </html>
  );
}
