import { describe, expect, it } from '@jest/globals';

import type { TrainerConfig } from './config.js';
import { buildTrainerCommand, decideOutcome, parseTrainerLine, trainingSpecJson, type TrainerJob } from './trainer.js';

const SHA = 'ab'.repeat(32);

function trainerConfig(overrides: Partial<TrainerConfig> = {}): TrainerConfig {
  return {
    python: '/usr/bin/python3',
    pythonPath: '/repo/python',
    allowPickle: false,
    moduleAliases: {},
    isolation: 'netns',
    ...overrides,
  };
}

function job(): TrainerJob {
  return {
    queryId: 'q-1',
    modelPath: '/state/tmp/model_q-1_start1.5.pt',
    dataset: { name: 'toy', path: '/data/toy.csv', features: ['x1', 'x2'], label: 'y' },
    training: null,
    outPath: '/state/results/model_q-1_completed2.5.pt',
    cwd: '/state',
  };
}

describe('parseTrainerLine', () => {
  it('should parse an epoch event', () => {
    expect(parseTrainerLine('{"event":"train.epoch","epoch":1,"totalEpochs":5,"loss":0.25}')).toEqual({
      event: 'train.epoch',
      epoch: 1,
      totalEpochs: 5,
      loss: 0.25,
    });
  });

  it('should read a NaN loss written by Python as NaN', () => {
    const event = parseTrainerLine('{"event": "train.epoch", "epoch": 2, "totalEpochs": 5, "loss": NaN}');

    expect(event).toMatchObject({ event: 'train.epoch', epoch: 2 });
    expect(Number.isNaN((event as { loss: number }).loss)).toBe(true);
  });

  it('should keep every digit of nanosecond timestamps', () => {
    const line = `{"event":"train.done","out":"/r.pt","sha256":"${SHA}","size":10,"startedAtNs":1796304453843469132,"finishedAtNs":1796304456892065173}`;

    expect(parseTrainerLine(line)).toMatchObject({ startedAtNs: '1796304453843469132', finishedAtNs: '1796304456892065173' });
  });

  it('should parse a failure', () => {
    expect(parseTrainerLine('{"event":"train.failed","code":"CLASS_NOT_FOUND","message":"no Net"}')).toEqual({
      event: 'train.failed',
      code: 'CLASS_NOT_FOUND',
      message: 'no Net',
    });
  });

  it.each([
    ['a blank line', ''],
    ['plain text', 'Epoch 1 done'],
    ['broken JSON', '{"event":"train.epoch",'],
    ['an unknown event', '{"event":"train.warmup"}'],
    ['a malformed epoch', '{"event":"train.epoch","epoch":"one","totalEpochs":5,"loss":1}'],
    ['a done event without a hash', '{"event":"train.done","out":"/r.pt","size":1,"startedAtNs":1,"finishedAtNs":2}'],
  ])('should ignore %s', (_, line) => {
    expect(parseTrainerLine(line)).toBeUndefined();
  });
});

describe('trainingSpecJson', () => {
  it('should apply the documented defaults to unset fields', () => {
    expect(JSON.parse(trainingSpecJson(null))).toEqual({
      epochs: 5,
      batchSize: 32,
      optimizer: 'sgd',
      learningRate: 0.01,
      loss: 'mse',
      seed: 0,
      momentum: 0,
    });
  });

  it('should write a uint64 seed with every digit', () => {
    const training = { epochs: 3, batchSize: 8, optimizer: 'adam', learningRate: 0.1, loss: 'bce', seed: '18446744073709551615', momentum: 0 };

    expect(trainingSpecJson(training)).toContain('"seed":18446744073709551615');
  });
});

describe('buildTrainerCommand', () => {
  it('should run python directly when pickle is not allowed', () => {
    const command = buildTrainerCommand(trainerConfig({ threads: 2 }), job());

    expect(command.command).toBe('/usr/bin/python3');
    expect(command.args.slice(0, 2)).toEqual(['-m', 'gds_ml.train']);
    expect(command.args).toEqual(expect.arrayContaining(['--features', 'x1,x2', '--label', 'y', '--threads', '2']));
    expect(command.args).not.toContain('--allow-pickle');
    expect(command.env).toMatchObject({ PYTHONPATH: '/repo/python', PYTHONUNBUFFERED: '1' });
  });

  it('should isolate a pickle-loading trainer in its own network namespace', () => {
    const command = buildTrainerCommand(trainerConfig({ allowPickle: true, moduleAliases: { __main__: 'gds_ml.demo_models' } }), job());

    expect(command.command).toBe('unshare');
    expect(command.args.slice(0, 3)).toEqual(['--net', '--map-root-user', '/usr/bin/python3']);
    expect(command.args).toEqual(expect.arrayContaining(['--allow-pickle', '--module-alias', '__main__=gds_ml.demo_models']));
  });

  it('should not isolate when isolation is none', () => {
    expect(buildTrainerCommand(trainerConfig({ allowPickle: true, isolation: 'none' }), job()).command).toBe('/usr/bin/python3');
  });
});

describe('decideOutcome', () => {
  const done = { event: 'train.done' as const, out: '/r.pt', sha256: SHA, size: 1, startedAtNs: '1', finishedAtNs: '2' };

  it('should succeed on exit 0 with a done event', () => {
    expect(decideOutcome({ code: 0, signal: null }, { done, isCancelled: false })).toEqual({ kind: 'done', result: done });
  });

  it('should pass on the trainer failure code', () => {
    const failed = { code: 'PICKLE_NOT_ALLOWED', message: 'pickle is off' };

    expect(decideOutcome({ code: 2, signal: null }, { failed, isCancelled: false })).toEqual({ kind: 'failed', ...failed });
  });

  it('should report a crash without quoting stderr', () => {
    expect(decideOutcome({ code: 3, signal: null }, { isCancelled: false })).toEqual({
      kind: 'failed',
      code: 'TRAINING_FAILED',
      message: 'the trainer exited with code 3 without a result',
    });
  });

  it('should fail when exit 0 comes without a result', () => {
    expect(decideOutcome({ code: 0, signal: null }, { isCancelled: false })).toMatchObject({ code: 'TRAINING_FAILED' });
  });

  it('should prefer cancellation over anything the killed trainer printed', () => {
    expect(decideOutcome({ code: null, signal: 'SIGTERM' }, { done, isCancelled: true })).toEqual({ kind: 'cancelled' });
  });
});
