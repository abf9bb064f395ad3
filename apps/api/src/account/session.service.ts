import { createHash, randomBytes } from 'node:crypto';

import { Injectable } from '@nestjs/common';

import { PrismaService } from '../database/prisma.service.js';
import { SESSION_TTL_MS } from './session-cookie.js';
import type { Viewer } from './viewer.js';

/** Portal sign-ins. The cookie carries 256 random bits; the database keeps only their SHA-256. */
@Injectable()
export class SessionService {
  constructor(private readonly prisma: PrismaService) {}

  async create(customerId: string): Promise<{ token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + SESSION_TTL_MS);

    await this.prisma.session.create({ data: { customerId, tokenHash: hashSessionToken(token), expiresAt } });

    return { token, expiresAt };
  }

  /** The signed-in customer, or null for an unknown, expired or revoked session. */
  async resolve(token: string): Promise<Viewer | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) {
      return null;
    }

    const session = await this.prisma.session.findUnique({ where: { tokenHash: hashSessionToken(token) } });
    if (!session || session.revokedAt || session.expiresAt.getTime() <= Date.now()) {
      return null;
    }

    return { kind: 'customer', customerId: session.customerId, tokenId: session.id, credential: 'session' };
  }

  async revoke(sessionId: string): Promise<void> {
    await this.prisma.session.updateMany({
      where: { id: sessionId, revokedAt: null },
      data: { revokedAt: new Date() },
    });
  }
}

function hashSessionToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
