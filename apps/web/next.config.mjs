// The portal is a client of the GDS API: every page talks to it from the browser (see README.md), so the server
// only renders the shell and hands the API's address to the browser at request time.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // next lives in the workspace's root node_modules; without this Turbopack guesses the root from lockfiles.
  turbopack: { root: REPO_ROOT },
  outputFileTracingRoot: REPO_ROOT,
  async headers() {
    return [
      {
        source: '/:path*',
        headers: [
          { key: 'X-Content-Type-Options', value: 'nosniff' },
          { key: 'Referrer-Policy', value: 'same-origin' },
          { key: 'X-Frame-Options', value: 'DENY' },
        ],
      },
    ];
  },
};

export default nextConfig;
