import type { Metadata } from 'next';

import { RequireSession } from '@/components/Providers';
import { QueryList } from '@/features/queries/QueryList';

export const metadata: Metadata = { title: 'Queries' };

export default function QueriesPage() {
  return (
    <RequireSession>
      <QueryList />
    </RequireSession>
  );
}
