import { registerEnumType } from '@nestjs/graphql';
import { ExecutionStatus, ModelFormat, QueryStatus, Verdict } from '@gds/db';

// The database's enums are the GraphQL enums, so a value can never be missing on one side.
registerEnumType(QueryStatus, { name: 'QueryStatus', description: 'Where a query is in its lifecycle.' });
registerEnumType(ExecutionStatus, {
  name: 'ExecutionStatus',
  description: "Where one Data Owner's work on a query is.",
});
registerEnumType(ModelFormat, {
  name: 'ModelFormat',
  description: 'How the model was serialized. TORCH_ARCHIVE: a zip archive not labelled as torch.save or TorchScript.',
});
registerEnumType(Verdict, { name: 'Verdict', description: 'The outcome of the consistency check.' });

export enum Optimizer {
  SGD = 'SGD',
  ADAM = 'ADAM',
}

export enum LossFunction {
  MSE = 'MSE',
  BCE = 'BCE',
  CROSS_ENTROPY = 'CROSS_ENTROPY',
}

registerEnumType(Optimizer, { name: 'Optimizer' });
registerEnumType(LossFunction, { name: 'LossFunction' });

export { ExecutionStatus, ModelFormat, QueryStatus, Verdict };
