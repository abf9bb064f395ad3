import type { Metadata } from 'next';

import { RequireSession } from '@/components/Providers';
import { QueryDetailView } from '@/features/queries/QueryDetailView';

export const metadata: Metadata = { title: 'Query' };

export default async function QueryPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;

  return (
    <RequireSession>
      <QueryDetailView id={id} />
    </RequireSession>
  );
}
