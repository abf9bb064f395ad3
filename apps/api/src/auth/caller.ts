/** Who made a call, once authenticated. */
export type Caller =
  | { kind: 'customer'; customerId: string; tokenId: string }
  | { kind: 'data-owner'; dataOwnerId: string; keyId: string; queryId: string };

export type CustomerCaller = Extract<Caller, { kind: 'customer' }>;
export type DataOwnerCaller = Extract<Caller, { kind: 'data-owner' }>;
