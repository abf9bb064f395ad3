import { Injectable } from '@nestjs/common';

import { unauthenticated } from '@gds/common';
import { PrismaService } from '../database/prisma.service.js';
import { hashApiToken, looksLikeApiToken } from './api-token.js';
import type { CustomerCaller } from './caller.js';

@Injectable()
export class CustomerAuthService {
  constructor(private readonly prisma: PrismaService) {}

  /** Resolves an `authorization: Bearer <token>` header to its customer. */
  async authenticate(authorization: string | undefined): Promise<CustomerCaller> {
    const token = authorization?.match(/^Bearer (\S+)$/)?.[1];
    if (!token || !looksLikeApiToken(token)) {
      throw unauthenticated('missing or malformed bearer token');
    }

    const row = await this.prisma.apiToken.findUnique({ where: { tokenHash: hashApiToken(token) } });
    if (!row || row.revokedAt) {
      throw unauthenticated('unknown or revoked API token');
    }

    return { kind: 'customer', customerId: row.customerId, tokenId: row.id };
  }
}
