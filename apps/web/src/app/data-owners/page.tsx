import type { Metadata } from 'next';

import { RequireSession } from '@/components/Providers';
import { DataOwnersView } from '@/features/data-owners/DataOwnersView';

export const metadata: Metadata = { title: 'Data owners and datasets' };

export default function DataOwnersPage() {
  return (
    <RequireSession>
      <DataOwnersView />
    </RequireSession>
  );
}
