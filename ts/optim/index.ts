/** kiln.optim: optimizers with fused native steps (torch.optim). */
export { Optimizer } from './optimizer';
export type { OptimizerStateDict, ParamGroup, ParamState } from './optimizer';
export { Adagrad, Adam, AdamW, RMSprop, SGD } from './optimizers';
export type { AdagradOptions, AdamOptions, RMSpropOptions, SGDOptions } from './optimizers';
export * as lrScheduler from './lr_scheduler';
export { LBFGS } from './lbfgs';
export type { LBFGSOptions } from './lbfgs';
export * as swaUtils from './swa_utils';
