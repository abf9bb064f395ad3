import { invalidInput } from '@gds/common';

/** How Data Owners train a query's model; stored as JSON on the query and handed to the trainer as is. */
export interface TrainingSpec {
  epochs: number;
  batchSize: number;
  optimizer: 'sgd' | 'adam';
  learningRate: number;
  loss: 'mse' | 'bce' | 'cross_entropy';
  seed: string;
  momentum: number;
}

export const TRAINING_DEFAULTS: TrainingSpec = {
  epochs: 5,
  batchSize: 32,
  optimizer: 'sgd',
  learningRate: 0.01,
  loss: 'mse',
  seed: '0',
  momentum: 0,
};

export interface TrainingSpecInput {
  epochs?: number;
  batchSize?: number;
  optimizer?: string;
  learningRate?: number;
  loss?: string;
  seed?: string | number;
  momentum?: number;
}

/** Fills defaults (proto3 sends 0 and "" for unset fields) and rejects what a trainer could not run. */
export function normalizeTrainingSpec(input: TrainingSpecInput | null | undefined): TrainingSpec {
  const spec: TrainingSpec = {
    epochs: input?.epochs || TRAINING_DEFAULTS.epochs,
    batchSize: input?.batchSize || TRAINING_DEFAULTS.batchSize,
    optimizer: (input?.optimizer || TRAINING_DEFAULTS.optimizer) as TrainingSpec['optimizer'],
    learningRate: input?.learningRate || TRAINING_DEFAULTS.learningRate,
    loss: (input?.loss || TRAINING_DEFAULTS.loss) as TrainingSpec['loss'],
    seed: String(input?.seed ?? TRAINING_DEFAULTS.seed),
    momentum: input?.momentum ?? TRAINING_DEFAULTS.momentum,
  };

  const problems: string[] = [];
  if (!Number.isInteger(spec.epochs) || spec.epochs < 1 || spec.epochs > 10_000) problems.push('epochs must be 1..10000');
  if (!Number.isInteger(spec.batchSize) || spec.batchSize < 1 || spec.batchSize > 1_048_576) {
    problems.push('batchSize must be 1..1048576');
  }
  if (!['sgd', 'adam'].includes(spec.optimizer)) problems.push('optimizer must be "sgd" or "adam"');
  if (!(spec.learningRate > 0 && spec.learningRate <= 10)) problems.push('learningRate must be in (0, 10]');
  if (!['mse', 'bce', 'cross_entropy'].includes(spec.loss)) problems.push('loss must be "mse", "bce" or "cross_entropy"');
  if (!/^\d{1,20}$/.test(spec.seed) || BigInt(spec.seed) >= 2n ** 64n) problems.push('seed must be a 64-bit unsigned integer');
  if (!(spec.momentum >= 0 && spec.momentum < 1)) problems.push('momentum must be in [0, 1)');
  if (problems.length > 0) {
    throw invalidInput(`bad training spec: ${problems.join('; ')}`);
  }

  return spec;
}
