import { Inject, Injectable } from '@nestjs/common';
import { GdsErrorCode, GdsException, invalidInput, notFound, unauthenticated, type Logger } from '@gds/common';
import type { Customer } from '@gds/db';

import { LOGGER } from '../common/logger.provider.js';
import { PrismaService } from '../database/prisma.service.js';
import { decoyPasswordHash, hashPassword, verifyPassword } from './password.js';
import { SessionService } from './session.service.js';

export const MIN_PASSWORD_LENGTH = 10;
const MAX_PASSWORD_LENGTH = 1024;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface SignedIn {
  customer: Customer;
  session: { token: string; expiresAt: Date };
}

/** Portal accounts: sign-up and sign-in with an email and a password, each starting a session. */
@Injectable()
export class AccountService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly sessions: SessionService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async signUp(input: { name: string; email: string; password: string }): Promise<SignedIn> {
    const name = input.name.trim();
    const email = normalizeEmail(input.email);
    if (!name || name.length > 200) {
      throw invalidInput('name must be 1 to 200 characters');
    }
    if (!EMAIL.test(email) || email.length > 320) {
      throw invalidInput('email is not a valid address');
    }
    assertPasswordShape(input.password);
    const passwordHash = await hashPassword(input.password);

    const customer = await this.prisma.customer
      .create({ data: { name, email, passwordHash } })
      .catch((error: unknown) => {
        throw isUniqueViolation(error)
          ? new GdsException(GdsErrorCode.ALREADY_EXISTS, 'an account with this email exists')
          : error;
      });
    this.logger.info({ event: 'account.signed_up', customerId: customer.id });

    return { customer, session: await this.sessions.create(customer.id) };
  }

  /**
   * Fails the same way, in about the same time, whether the email is unknown or the password wrong.
   * TODO(sign-in rate limit): each attempt costs ~32 MiB and 50-100 ms of scrypt, and nothing limits attempts per
   * address or email, so a flood can starve the API. It stays because no portal is exposed beyond a trusted network
   * yet; a Redis token bucket per client address and email retires it before the portal is published.
   */
  async signIn(input: { email: string; password: string }): Promise<SignedIn> {
    const customer = await this.prisma.customer.findUnique({ where: { email: normalizeEmail(input.email) } });
    const isLengthOk = input.password.length <= MAX_PASSWORD_LENGTH;
    const encoded = customer?.passwordHash ?? (await decoyPasswordHash());

    const isMatch = (await verifyPassword(isLengthOk ? input.password : '', encoded)) && isLengthOk;
    if (!customer?.passwordHash || !isMatch) {
      throw unauthenticated('wrong email or password');
    }

    return { customer, session: await this.sessions.create(customer.id) };
  }

  async getCustomer(customerId: string): Promise<Customer> {
    const customer = await this.prisma.customer.findUnique({ where: { id: customerId } });
    if (!customer) {
      throw notFound(`customer ${customerId} not found`);
    }

    return customer;
  }
}

function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function assertPasswordShape(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw invalidInput(`password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw invalidInput(`password must have at most ${MAX_PASSWORD_LENGTH} characters`);
  }
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === 'P2002';
}
