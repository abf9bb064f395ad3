import { Inject, Injectable } from '@nestjs/common';
import { invalidInput, notFound, type Logger } from '@gds/common';
import type { ApiToken } from '@gds/db';

import { generateApiToken } from '../auth/api-token.js';
import { LOGGER } from '../common/logger.provider.js';
import { PrismaService } from '../database/prisma.service.js';

const MAX_TOKENS_PER_CUSTOMER = 100;

/** Integrators' API tokens: shown once when created, stored as their SHA-256, revoked rather than deleted. */
@Injectable()
export class ApiTokenService {
  constructor(
    private readonly prisma: PrismaService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async create(customerId: string, name: string): Promise<{ apiToken: ApiToken; token: string }> {
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > 100) {
      throw invalidInput('a token name must be 1 to 100 characters');
    }
    const active = await this.prisma.apiToken.count({ where: { customerId, revokedAt: null } });
    if (active >= MAX_TOKENS_PER_CUSTOMER) {
      throw invalidInput(`at most ${MAX_TOKENS_PER_CUSTOMER} active tokens; revoke one first`);
    }

    const issued = generateApiToken();
    const apiToken = await this.prisma.apiToken.create({
      data: { customerId, name: trimmed, tokenHash: issued.tokenHash, prefix: issued.prefix },
    });
    this.logger.info({ event: 'api_token.created', customerId, tokenId: apiToken.id });

    return { apiToken, token: issued.token };
  }

  /** Newest first, revoked ones included (with revokedAt). */
  async list(customerId: string): Promise<ApiToken[]> {
    return this.prisma.apiToken.findMany({ where: { customerId }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
  }

  /** Idempotent; another customer's token is reported as missing. */
  async revoke(customerId: string, tokenId: string): Promise<ApiToken> {
    const token = isUuid(tokenId) ? await this.prisma.apiToken.findUnique({ where: { id: tokenId } }) : null;
    if (!token || token.customerId !== customerId) {
      throw notFound(`API token ${tokenId} not found`);
    }
    if (token.revokedAt) {
      return token;
    }

    const revoked = await this.prisma.apiToken.update({ where: { id: tokenId }, data: { revokedAt: new Date() } });
    this.logger.info({ event: 'api_token.revoked', customerId, tokenId });

    return revoked;
  }

  /** Records use at most once a minute per token, so busy integrators do not write on every request. */
  async touch(tokenId: string): Promise<void> {
    await this.prisma.apiToken.updateMany({
      where: { id: tokenId, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: new Date(Date.now() - 60_000) } }] },
      data: { lastUsedAt: new Date() },
    });
  }
}

function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value);
}
