import {
  getNamedType,
  getNullableType,
  GraphQLError,
  isAbstractType,
  isListType,
  isObjectType,
  Kind,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  valueFromAST,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

export interface QueryLimits {
  maxDepth: number;
  maxCost: number;
}

/** A list field with no `first` argument counts as this many items. */
export const ASSUMED_LIST_SIZE = 10;

/**
 * Introspection nests `ofType` about ten levels deep in the standard query that tools send; its subtree gets this
 * bound instead of the operation limit, and costs nothing (its size is bounded by the schema's own).
 */
const INTROSPECTION_MAX_DEPTH = 16;

interface Measure {
  depth: number;
  cost: number;
}

/**
 * Rejects an operation nested deeper than `maxDepth` fields, or costing more than `maxCost`. Cost estimates how many
 * field values the operation resolves: each field counts once per item of every list it sits in, a list counting
 * as its `first` argument (for a connection, the `first` of the field returning it) or as ASSUMED_LIST_SIZE.
 * Variables are known here, so `first: $n` costs what $n says.
 */
export function checkOperationLimits(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | undefined,
  limits: QueryLimits,
): void {
  const operation = pickOperation(document, operationName);
  if (!operation) {
    return;
  }
  const measurer = new Measurer(schema, document, variables ?? {});
  const root = schema.getRootType(operation.operation);
  if (!root) {
    return;
  }

  const { depth, cost } = measurer.selectionSet(operation.selectionSet, root, 0, 1, undefined, new Set());
  if (depth > limits.maxDepth) {
    throw limitError('QUERY_TOO_DEEP', `operation is ${depth} fields deep; the limit is ${limits.maxDepth}`);
  }
  if (cost > limits.maxCost) {
    const message = `operation costs about ${cost}; the limit is ${limits.maxCost} (ask for fewer items)`;
    throw limitError('QUERY_TOO_COSTLY', message);
  }
}

function limitError(reason: 'QUERY_TOO_DEEP' | 'QUERY_TOO_COSTLY', message: string): GraphQLError {
  // Apollo turns `http.status` into the response status and strips it from the body.
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', reason, http: { status: 400 } } });
}

function pickOperation(document: DocumentNode, name: string | null | undefined): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );

  return name ? operations.find((o) => o.name?.value === name) : operations.length === 1 ? operations[0] : undefined;
}

class Measurer {
  private readonly fragments: Map<string, FragmentDefinitionNode>;

  constructor(
    private readonly schema: GraphQLSchema,
    document: DocumentNode,
    private readonly variables: Record<string, unknown>,
  ) {
    const fragments = document.definitions.filter(
      (d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION,
    );
    this.fragments = new Map(fragments.map((f) => [f.name.value, f]));
  }

  /**
   * `multiplier`: how many times this selection set is resolved. `pageSize`: the `first` of an enclosing connection
   * field, applied to the first list below it (its edges).
   */
  selectionSet(
    set: SelectionSetNode,
    parent: GraphQLNamedType,
    depth: number,
    multiplier: number,
    pageSize: number | undefined,
    inFragments: Set<string>,
  ): Measure {
    let deepest = depth;
    let cost = 0;

    for (const selection of set.selections) {
      let measure: Measure;
      if (selection.kind === Kind.FIELD) {
        measure = this.field(selection, parent, depth, multiplier, pageSize, inFragments);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? this.schema.getType(selection.typeCondition.name.value) : parent;
        measure = this.selectionSet(selection.selectionSet, type ?? parent, depth, multiplier, pageSize, inFragments);
      } else {
        const fragment = this.fragments.get(selection.name.value);
        // A fragment cycle is reported by the standard validation rules; here it only must not recurse forever.
        if (!fragment || inFragments.has(fragment.name.value)) continue;
        const type = this.schema.getType(fragment.typeCondition.name.value) ?? parent;
        const inner = new Set(inFragments).add(fragment.name.value);
        measure = this.selectionSet(fragment.selectionSet, type, depth, multiplier, pageSize, inner);
      }
      deepest = Math.max(deepest, measure.depth);
      cost += measure.cost;
    }

    return { depth: deepest, cost };
  }

  private field(
    node: FieldNode,
    parent: GraphQLNamedType,
    depth: number,
    multiplier: number,
    pageSize: number | undefined,
    inFragments: Set<string>,
  ): Measure {
    const name = node.name.value;
    if (name === '__typename') {
      return { depth, cost: 0 };
    }
    const definition = this.definitionOf(parent, name);
    if (!definition) {
      return { depth: depth + 1, cost: multiplier };
    }
    if (name === '__schema' || name === '__type') {
      return this.introspection(node, definition, depth, inFragments);
    }

    const first = this.firstArgument(node, definition);
    const isList = isListType(getNullableType(definition.type));
    const listSize = isList ? (first ?? pageSize ?? ASSUMED_LIST_SIZE) : 1;
    const childPageSize = isList ? undefined : (first ?? pageSize);
    if (!node.selectionSet) {
      return { depth: depth + 1, cost: multiplier };
    }

    const type = getNamedType(definition.type);
    const childMultiplier = multiplier * listSize;
    const inner = this.selectionSet(node.selectionSet, type, depth + 1, childMultiplier, childPageSize, inFragments);

    return { depth: inner.depth, cost: multiplier + inner.cost };
  }

  /** Counted against its own depth bound, at no cost, and invisible to the operation's depth. */
  private introspection(
    node: FieldNode,
    definition: GraphQLField<unknown, unknown>,
    depth: number,
    inFragments: Set<string>,
  ): Measure {
    const inner = node.selectionSet
      ? this.selectionSet(node.selectionSet, getNamedType(definition.type), 1, 1, undefined, inFragments)
      : { depth: 1, cost: 0 };
    if (inner.depth > INTROSPECTION_MAX_DEPTH) {
      const message = `introspection is ${inner.depth} fields deep; the limit is ${INTROSPECTION_MAX_DEPTH}`;
      throw limitError('QUERY_TOO_DEEP', message);
    }

    return { depth: depth + 1, cost: 0 };
  }

  private definitionOf(parent: GraphQLNamedType, name: string): GraphQLField<unknown, unknown> | undefined {
    if (parent === this.schema.getQueryType() && name === '__schema') return SchemaMetaFieldDef;
    if (parent === this.schema.getQueryType() && name === '__type') return TypeMetaFieldDef;
    if (isObjectType(parent) || isAbstractType(parent)) {
      return 'getFields' in parent ? parent.getFields()[name] : undefined;
    }

    return undefined;
  }

  private firstArgument(node: FieldNode, definition: GraphQLField<unknown, unknown>): number | undefined {
    const argument = definition.args.find((arg) => arg.name === 'first');
    if (!argument) {
      return undefined;
    }
    const given = node.arguments?.find((arg) => arg.name.value === 'first');
    const value = (given && valueFromAST(given.value, argument.type, this.variables)) ?? argument.defaultValue;

    return typeof value === 'number' && value >= 0 ? value : undefined;
  }
}
