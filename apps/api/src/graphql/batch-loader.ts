/**
 * Collects the keys asked for while one round of resolvers runs (until the next macrotask) and loads them with
 * one query: a page of 20 queries asks for 20 timelines, which become one SELECT rather than 20. Nothing is cached,
 * so each subscription event reads fresh rows.
 */
export class BatchLoader<K, V> {
  private pending = new Map<K, Array<{ resolve: (value: V) => void; reject: (error: unknown) => void }>>();

  constructor(
    private readonly loadMany: (keys: K[]) => Promise<Map<K, V>>,
    private readonly missing: V,
  ) {}

  load(key: K): Promise<V> {
    if (this.pending.size === 0) {
      setImmediate(() => void this.flush());
    }

    return new Promise<V>((resolve, reject) => {
      const waiting = this.pending.get(key) ?? [];
      waiting.push({ resolve, reject });
      this.pending.set(key, waiting);
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();

    try {
      const values = await this.loadMany([...batch.keys()]);
      batch.forEach((waiting, key) => waiting.forEach(({ resolve }) => resolve(values.get(key) ?? this.missing)));
    } catch (error) {
      batch.forEach((waiting) => waiting.forEach(({ reject }) => reject(error)));
    }
  }
}
