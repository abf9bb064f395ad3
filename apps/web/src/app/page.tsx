'use client';

// The front door: what GDS does, and the way in.
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useEffect } from 'react';

import { useSession } from '@/components/Providers';

export default function HomePage() {
  const { me } = useSession();
  const router = useRouter();

  useEffect(() => {
    if (me) router.replace('/queries');
  }, [me, router]);

  return (
    <div className="stack narrow">
      <h1>Train your model where the data lives</h1>
      <p>
        Upload a PyTorch model — a <code>torch.save</code> file, a pickle or TorchScript. Data Owners train it on data
        they never hand over, GDS checks that their results agree, and you download the verified <code>state_dict</code>
        .
      </p>
      <ol className="steps">
        <li>Create an account and upload your model.</li>
        <li>Pick a dataset and how many Data Owners must agree.</li>
        <li>Watch them train, live, with loss curves.</li>
        <li>
          Download the result and load it with <code>model.load_state_dict(...)</code>.
        </li>
      </ol>
      <p className="actions">
        <Link className="button" href="/sign-up">
          Create an account
        </Link>
        <Link className="button button-quiet" href="/sign-in">
          Sign in
        </Link>
      </p>
    </div>
  );
}
