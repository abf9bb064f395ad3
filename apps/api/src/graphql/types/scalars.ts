import { GraphQLError, GraphQLScalarType, Kind, valueFromASTUntyped } from 'graphql';

/** Integers past 2^53 (sizes, nanosecond timestamps, seeds) travel as decimal strings. */
export const BigIntScalar = new GraphQLScalarType<bigint, string>({
  name: 'BigInt',
  description: 'An integer of any size, as a decimal string (sizes in bytes, nanosecond timestamps, seeds).',
  serialize(value) {
    if (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value))) {
      return value.toString();
    }
    if (typeof value === 'string' && /^-?\d+$/.test(value)) {
      return value;
    }
    throw new GraphQLError(`BigInt cannot represent ${String(value)}`);
  },
  parseValue(value) {
    return toBigInt(value);
  },
  parseLiteral(ast) {
    if (ast.kind === Kind.INT || ast.kind === Kind.STRING) {
      return toBigInt(ast.value);
    }
    throw new GraphQLError('BigInt must be an integer or a decimal string', { nodes: ast });
  },
});

/** Free-form JSON (a dataset's schema, a timeline entry's detail). */
export const JsonScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});

function toBigInt(value: unknown): bigint {
  const isDecimal = typeof value === 'string' && /^-?\d{1,40}$/.test(value);
  if (isDecimal || (typeof value === 'number' && Number.isSafeInteger(value))) {
    return BigInt(value);
  }
  throw new GraphQLError('BigInt must be an integer or a decimal string of digits');
}
