'use client';

// The verified result: a download link (the API streams it with the session cookie) and how to load it, as in the
// seed notebook.
import { useConfig } from '@/components/Providers';
import { CopyButton, Hash } from '@/components/ui';
import type { QueryDetail } from '@/lib/graphql/types';

export function resultFileName(queryId: string): string {
  return `${queryId}-state_dict.pt`;
}

export function loadSnippet(fileName: string): string {
  return [
    'import torch',
    '',
    'model = Net()  # your model class, as you defined it before torch.save',
    `model.load_state_dict(torch.load("${fileName}"))`,
    'model.eval()',
  ].join('\n');
}

export function ResultDownload({ query }: { query: QueryDetail }) {
  const { apiUrl } = useConfig();

  if (!query.resultDownloadUrl) {
    const why =
      query.status === 'FAILED' || query.status === 'CANCELLED'
        ? 'This query has no verified result.'
        : 'The result can be downloaded once the Data Owners agree on it.';

    return <p className="muted">{why}</p>;
  }

  const href = new URL(query.resultDownloadUrl, `${apiUrl}/`).toString();
  const fileName = resultFileName(query.id);
  const snippet = loadSnippet(fileName);
  const sha256 = query.report?.canonicalSha256;

  return (
    <div className="stack-tight">
      <p>
        <a className="button" href={href} download={fileName} data-testid="download-result">
          Download state_dict
        </a>
      </p>
      {sha256 && (
        <p className="small">
          Check the file: <code>sha256sum {fileName}</code> prints <Hash value={sha256} label="result SHA-256" />
        </p>
      )}
      <p>Load it into your model:</p>
      <div className="code-block">
        <pre>
          <code data-testid="load-snippet">{snippet}</code>
        </pre>
        <CopyButton text={snippet} label="Copy the Python snippet" />
      </div>
    </div>
  );
}
