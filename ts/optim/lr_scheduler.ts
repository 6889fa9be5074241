/**
 * Learning-rate schedulers (torch.optim.lr_scheduler) with PyTorch's names, options and step
 * semantics: constructing one sets the epoch-0 rate; each step() advances one epoch (or batch).
 * As in PyTorch, step() uses a scheduler's chainable form where PyTorch has one (StepLR,
 * MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR, CosineAnnealingLR,
 * MultiplicativeLR derive the new rate from the rate now set), so schedulers stepped on one
 * optimizer compose (ChainedScheduler); the others, and step(epoch), use closed forms of the
 * base rates and the epoch.
 */
export { ChainableLR, LRScheduler } from './lr_base';
export * from './lr_steps';
export * from './lr_cycles';
export * from './lr_combine';
