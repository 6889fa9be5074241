/** Channel shuffle (torch.nn.ChannelShuffle, F.channel_shuffle): a reshape, a transpose and a reshape. */
import { KilnError } from '../../errors';
import { scope } from '../../memory';
import { shapeStr } from '../../shape';
import type { Tensor } from '../../tensor';
import { Module } from '../module';

/**
 * [N, C, *] with its C channels seen as [groups, C / groups] and transposed to [C / groups,
 * groups] (torch channel_shuffle): channel g * (C / groups) + k moves to k * groups + g.
 * @example
 * kiln.nn.functional.channelShuffle(kiln.arange(0, 4).reshape([1, 4, 1]), 2); // channels 0, 2, 1, 3
 */
export function channelShuffle(x: Tensor, groups: number): Tensor {
  if (!Number.isInteger(groups) || groups < 1)
    throw new KilnError('ERR_ARG', `channelShuffle: groups must be a positive integer, got ${groups}`);
  if (x.ndim < 3 || x.shape[1] % groups !== 0)
    throw new KilnError(
      'ERR_SHAPE',
      `channelShuffle: [N, C, *] with C divisible by ${groups} groups expected, got ${shapeStr(x.shape)}`,
    );
  const [N, C, ...rest] = x.shape;
  return scope(() =>
    x
      .reshape([N, groups, C / groups, ...rest])
      .transpose(1, 2)
      .reshape([N, C, ...rest]),
  );
}

/** Shuffles the channels of [N, C, *] between `groups` groups (torch.nn.ChannelShuffle). */
export class ChannelShuffle extends Module {
  constructor(readonly groups: number) {
    super();
    if (!Number.isInteger(groups) || groups < 1)
      throw new KilnError('ERR_ARG', `ChannelShuffle: groups must be a positive integer, got ${groups}`);
  }
  forward(x: Tensor): Tensor {
    return channelShuffle(x, this.groups);
  }
  override extraRepr(): string {
    return `groups=${this.groups}`;
  }
}
