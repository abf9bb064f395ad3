import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Redis } from 'ioredis';

import { REDIS } from '../database/redis.provider.js';

const CHANNEL = 'gds:assignments';

type Listener = () => void;

/**
 * Wakes WatchAssignments streams, on any API replica, when their Data Owner gets new work. The message only says
 * "look again"; the database stays the source of truth, so a lost message costs at most one resync period.
 */
@Injectable()
export class AssignmentNotifier implements OnModuleDestroy {
  private subscriber: Redis | undefined;
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async notify(dataOwnerIds: string[]): Promise<void> {
    if (dataOwnerIds.length > 0) {
      await this.redis.publish(CHANNEL, JSON.stringify(dataOwnerIds));
    }
  }

  /** Calls back whenever the Data Owner may have new work; returns the unsubscribe function. */
  async listen(dataOwnerId: string, listener: Listener): Promise<() => void> {
    await this.ensureSubscribed();
    const set = this.listeners.get(dataOwnerId) ?? new Set<Listener>();
    set.add(listener);
    this.listeners.set(dataOwnerId, set);

    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(dataOwnerId);
    };
  }

  async onModuleDestroy(): Promise<void> {
    this.subscriber?.disconnect();
  }

  private async ensureSubscribed(): Promise<void> {
    if (this.subscriber) {
      return;
    }
    this.subscriber = this.redis.duplicate();
    this.subscriber.on('message', (_channel: string, message: string) => this.dispatch(message));
    await this.subscriber.subscribe(CHANNEL);
  }

  private dispatch(message: string): void {
    const ids = JSON.parse(message) as string[];
    for (const id of ids) {
      this.listeners.get(id)?.forEach((listener) => listener());
    }
  }
}
