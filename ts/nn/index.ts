/** kiln.nn: modules, layers and losses arrive with their own issue; init and functional are here now. */
import * as C from '../ops/composite';
import { gelu, linear } from '../ops/linear';
import * as init from './init';

/** Functional forms (torch.nn.functional). */
export const functional = {
  relu: C.relu,
  gelu,
  linear,
  softmax: C.softmax,
  logSoftmax: C.logSoftmax,
  oneHot: C.oneHot,
};

export { init };
