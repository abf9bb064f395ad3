import Link from 'next/link';

export default function NotFound() {
  return (
    <div className="stack narrow">
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. <Link href="/queries">Go to your queries</Link>.
      </p>
    </div>
  );
}
