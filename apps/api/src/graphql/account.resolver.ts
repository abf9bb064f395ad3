import { Inject } from '@nestjs/common';
import { Args, Context, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { invalidInput } from '@gds/common';
import type { ApiToken as ApiTokenRow, Customer as CustomerRow } from '@gds/db';

import { AccountService, type SignedIn } from '../account/account.service.js';
import { ApiTokenService } from '../account/api-token.service.js';
import { clearedSessionCookie, readCookie, SESSION_COOKIE, sessionCookie } from '../account/session-cookie.js';
import { SessionService } from '../account/session.service.js';
import { APP_CONFIG, type AppConfig } from '../config/app.config.js';
import { optionalViewer, requireViewer, type GqlContext } from './graphql-context.js';
import { ApiToken, CreatedApiToken, Customer, SignInInput, SignUpInput } from './types/account.types.js';

@Resolver()
export class AccountResolver {
  constructor(
    private readonly accounts: AccountService,
    private readonly tokenService: ApiTokenService,
    private readonly sessions: SessionService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Query(() => Customer, { nullable: true, description: 'The signed-in customer; null when not signed in.' })
  async me(@Context() context: GqlContext): Promise<Customer | null> {
    const viewer = optionalViewer(context);

    return viewer ? toCustomer(await this.accounts.getCustomer(viewer.customerId)) : null;
  }

  @Mutation(() => Customer, { description: 'Creates an account and signs it in (sets the session cookie).' })
  async signUp(@Args('input') input: SignUpInput, @Context() context: GqlContext): Promise<Customer> {
    assertHttp(context);

    return this.startSession(context, await this.accounts.signUp(input));
  }

  @Mutation(() => Customer, {
    description: 'Sets the session cookie. Fails alike for an unknown email and a wrong password.',
  })
  async signIn(@Args('input') input: SignInInput, @Context() context: GqlContext): Promise<Customer> {
    assertHttp(context);

    return this.startSession(context, await this.accounts.signIn(input));
  }

  @Mutation(() => Boolean, { description: "Ends the cookie's session and clears the cookie; API tokens stay valid." })
  async signOut(@Context() context: GqlContext): Promise<boolean> {
    const token = readCookie(context.headers.cookie, SESSION_COOKIE);
    if (token) {
      const session = await this.sessions.resolve(token);
      if (session) await this.sessions.revoke(session.tokenId);
    }
    context.res?.setHeader('Set-Cookie', clearedSessionCookie(this.config.isCookieSecure));

    return true;
  }

  @Query(() => [ApiToken], { description: 'Newest first, revoked ones included.' })
  async apiTokens(@Context() context: GqlContext): Promise<ApiToken[]> {
    const viewer = requireViewer(context);

    return (await this.tokenService.list(viewer.customerId)).map(toApiToken);
  }

  @Mutation(() => CreatedApiToken)
  async createApiToken(@Args('name') name: string, @Context() context: GqlContext): Promise<CreatedApiToken> {
    const viewer = requireViewer(context);
    const created = await this.tokenService.create(viewer.customerId, name);

    return { apiToken: toApiToken(created.apiToken), token: created.token };
  }

  @Mutation(() => ApiToken, { description: 'The token stops working at once.' })
  async revokeApiToken(@Args('id', { type: () => ID }) id: string, @Context() context: GqlContext): Promise<ApiToken> {
    const viewer = requireViewer(context);

    return toApiToken(await this.tokenService.revoke(viewer.customerId, id));
  }

  private startSession(context: GqlContext, signedIn: SignedIn): Customer {
    const { token, expiresAt } = signedIn.session;
    context.res!.setHeader('Set-Cookie', sessionCookie(token, expiresAt, this.config.isCookieSecure));

    return toCustomer(signedIn.customer);
  }
}

/** Cookies can only be set on an HTTP response, not on a WebSocket message. */
function assertHttp(context: GqlContext): void {
  if (!context.res) {
    throw invalidInput('sign up and sign in over HTTP (POST /graphql), not over graphql-ws');
  }
}

function toCustomer(row: CustomerRow): Customer {
  return { id: row.id, name: row.name, email: row.email, createdAt: row.createdAt };
}

function toApiToken(row: ApiTokenRow): ApiToken {
  const { id, name, prefix, createdAt, lastUsedAt, revokedAt } = row;

  return { id, name, prefix, createdAt, lastUsedAt, revokedAt };
}
