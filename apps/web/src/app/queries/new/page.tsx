import type { Metadata } from 'next';

import { RequireSession } from '@/components/Providers';
import { NewQuery } from '@/features/queries/NewQuery';

export const metadata: Metadata = { title: 'New query' };

export default function NewQueryPage() {
  return (
    <RequireSession>
      <NewQuery />
    </RequireSession>
  );
}
