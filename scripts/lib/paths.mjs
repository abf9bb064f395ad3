import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, whatever the current directory. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** Where private servers, agent state and demo files live; never committed. */
export const DATA_DIR = process.env.GDS_DATA_DIR ?? join(REPO_ROOT, '.data');
