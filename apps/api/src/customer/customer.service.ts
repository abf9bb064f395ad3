import { Injectable } from '@nestjs/common';

import { generateApiToken } from '../auth/api-token.js';
import { invalidInput } from '@gds/common';
import { PrismaService } from '../database/prisma.service.js';

@Injectable()
export class CustomerService {
  constructor(private readonly prisma: PrismaService) {}

  /** Creates a customer with a first API token; the token is returned once and stored only hashed. */
  async createCustomer(name: string, email?: string): Promise<{ customerId: string; token: string }> {
    if (!name.trim()) {
      throw invalidInput('a customer needs a name');
    }
    const issued = generateApiToken();

    const customer = await this.prisma.customer.create({
      data: {
        name: name.trim(),
        email,
        apiTokens: { create: { name: 'default', tokenHash: issued.tokenHash, prefix: issued.prefix } },
      },
    });

    return { customerId: customer.id, token: issued.token };
  }
}
