import { describe, expect, it } from '@jest/globals';
import { buildSchema, GraphQLError, parse } from 'graphql';

import { checkOperationLimits } from './query-limits.js';

const schema = buildSchema(`
  type Query { items(first: Int = 20): Connection! item: Item }
  type Connection { edges: [Edge!]! total: Int! }
  type Edge { node: Item! }
  type Item { id: ID! parts: [Part!]! }
  type Part { name: String! child: Part }
`);

function measure(query: string, variables: Record<string, unknown> = {}, limits = { maxDepth: 100, maxCost: 1e9 }) {
  try {
    checkOperationLimits(schema, parse(query), undefined, variables, limits);
    return 'ok';
  } catch (error) {
    return (error as GraphQLError).extensions;
  }
}

describe('checkOperationLimits', () => {
  it('should count depth in fields, through fragments and inline fragments', () => {
    const query = '{ item { ...P } } fragment P on Item { parts { ... on Part { child { child { name } } } } }';

    expect(measure(query, {}, { maxDepth: 5, maxCost: 1e9 })).toBe('ok');
    expect(measure(query, {}, { maxDepth: 4, maxCost: 1e9 })).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'QUERY_TOO_DEEP' });
  });

  it("should cost a connection's edges at its first argument, from a literal, a variable or the default", () => {
    // items 1 + total 1 + edges 1 + node 20 + id 20 = 43 at the default of 20
    const query = 'query($n: Int) { items(first: $n) { total edges { node { id } } } }';

    expect(measure(query, {}, { maxDepth: 10, maxCost: 43 })).toBe('ok');
    expect(measure(query, {}, { maxDepth: 10, maxCost: 42 })).toMatchObject({ reason: 'QUERY_TOO_COSTLY' });
    expect(measure(query, { n: 2 }, { maxDepth: 10, maxCost: 7 })).toBe('ok');
    expect(measure('{ items(first: 2) { total edges { node { id } } } }', {}, { maxDepth: 10, maxCost: 6 })).toMatchObject({
      reason: 'QUERY_TOO_COSTLY',
    });
  });

  it('should multiply nested lists, assuming 10 items where no first argument says', () => {
    // item 1 + parts 1 + name 10 + child 10 + child.name 10 = 32
    expect(measure('{ item { parts { name child { name } } } }', {}, { maxDepth: 10, maxCost: 32 })).toBe('ok');
    expect(measure('{ item { parts { name child { name } } } }', {}, { maxDepth: 10, maxCost: 31 })).not.toBe('ok');
  });

  it('should add up aliases, so repeating a field does not dodge the limit', () => {
    const once = '{ a: items(first: 50) { edges { node { id } } } }';
    const twice = '{ a: items(first: 50) { edges { node { id } } } b: items(first: 50) { edges { node { id } } } }';

    expect(measure(once, {}, { maxDepth: 10, maxCost: 150 })).toBe('ok');
    expect(measure(twice, {}, { maxDepth: 10, maxCost: 150 })).toMatchObject({ reason: 'QUERY_TOO_COSTLY' });
  });

  it('should not loop on a fragment cycle (the standard rules report it)', () => {
    expect(measure('{ item { parts { ...A } } } fragment A on Part { child { ...A } }')).toBe('ok');
  });
});
