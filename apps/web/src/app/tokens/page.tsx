import type { Metadata } from 'next';

import { RequireSession } from '@/components/Providers';
import { TokensView } from '@/features/tokens/TokensView';

export const metadata: Metadata = { title: 'API tokens' };

export default function TokensPage() {
  return (
    <RequireSession>
      <TokensView />
    </RequireSession>
  );
}
