/**
 * Checkpoints: a model's state dict, an optimizer's state and a scheduler's state in one
 * safetensors file. Tensors are stored under `model.<key>` and `optimizer.<param index>.<buffer>`;
 * everything else (optimizer groups and step counts, scheduler state, the caller's `extra`) is
 * JSON in the file's metadata, so the file stays a plain safetensors file PyTorch tools can read.
 */
import { KilnError } from '../errors';
import type { Module } from '../nn/module';
import type { Optimizer, OptimizerStateDict } from '../optim/optimizer';
import { Tensor } from '../tensor';
import { inspect, load, loadSync, save, saveSync } from './safetensors';

interface Stateful {
  stateDict(): Record<string, unknown>;
  loadStateDict(sd: Record<string, unknown>): void;
}

export interface CheckpointParts {
  model?: Module;
  optimizer?: Optimizer<object>;
  scheduler?: Stateful;
  /** JSON-serialisable values saved alongside (epoch, best metric, ...). */
  extra?: Record<string, unknown>;
}

function pack(parts: CheckpointParts): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const tensors = new Map<string, Tensor>();
  const metadata: Record<string, string> = { format: 'kiln-checkpoint-1' };
  if (parts.model) for (const [k, t] of parts.model.stateDict()) tensors.set(`model.${k}`, t);
  if (parts.optimizer) {
    const sd = parts.optimizer.stateDict();
    const steps: Record<string, Record<string, number>> = {};
    for (const [i, st] of Object.entries(sd.state))
      for (const [k, v] of Object.entries(st)) {
        if (v instanceof Tensor) tensors.set(`optimizer.${i}.${k}`, v);
        else (steps[i] ??= {})[k] = v;
      }
    metadata.optimizer = JSON.stringify({ paramGroups: sd.paramGroups, scalars: steps });
  }
  if (parts.scheduler) metadata.scheduler = JSON.stringify(parts.scheduler.stateDict());
  if (parts.extra) metadata.extra = JSON.stringify(parts.extra);
  return { tensors, metadata };
}

function unpack(path: string, tensors: Map<string, Tensor>, metadata: Record<string, string>, parts: CheckpointParts) {
  if (metadata.format !== 'kiln-checkpoint-1')
    throw new KilnError(
      'ERR_STATE_DICT',
      `loadCheckpoint: ${path} is not a kiln checkpoint (use kiln.load for plain tensors)`,
    );
  if (parts.model) {
    const sd = new Map<string, Tensor>();
    for (const [k, t] of tensors) if (k.startsWith('model.')) sd.set(k.slice(6), t);
    parts.model.loadStateDict(sd);
  }
  if (parts.optimizer) {
    if (!metadata.optimizer) throw new KilnError('ERR_STATE_DICT', `loadCheckpoint: ${path} holds no optimizer state`);
    const o = JSON.parse(metadata.optimizer) as {
      paramGroups: OptimizerStateDict['paramGroups'];
      scalars: Record<string, Record<string, number>>;
    };
    const state: OptimizerStateDict['state'] = {};
    for (const [i, s] of Object.entries(o.scalars)) state[Number(i)] = { ...s };
    for (const [k, t] of tensors)
      if (k.startsWith('optimizer.')) {
        const [, i, name] = k.split('.');
        (state[Number(i)] ??= {})[name] = t;
      }
    parts.optimizer.loadStateDict({ state, paramGroups: o.paramGroups });
  }
  if (parts.scheduler) {
    if (!metadata.scheduler) throw new KilnError('ERR_STATE_DICT', `loadCheckpoint: ${path} holds no scheduler state`);
    parts.scheduler.loadStateDict(JSON.parse(metadata.scheduler));
  }
  for (const t of tensors.values()) t.dispose();
  return metadata.extra ? (JSON.parse(metadata.extra) as Record<string, unknown>) : {};
}

/** Saves model, optimizer and scheduler state (any of them) and `extra` to one file. */
export async function saveCheckpoint(path: string, parts: CheckpointParts): Promise<void> {
  const { tensors, metadata } = pack(parts);
  await save(tensors, path, { metadata });
}
export function saveCheckpointSync(path: string, parts: CheckpointParts): void {
  const { tensors, metadata } = pack(parts);
  saveSync(tensors, path, { metadata });
}

/** Restores what saveCheckpoint wrote into the given objects; returns the saved `extra`. */
export async function loadCheckpoint(path: string, parts: CheckpointParts): Promise<Record<string, unknown>> {
  const metadata = inspect(path).metadata;
  return unpack(path, await load(path), metadata, parts);
}
export function loadCheckpointSync(path: string, parts: CheckpointParts): Record<string, unknown> {
  return unpack(path, loadSync(path), inspect(path).metadata, parts);
}
