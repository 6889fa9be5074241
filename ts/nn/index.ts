/** kiln.nn: modules, layers and losses arrive with their own issue; init and functional are here now. */
import * as C from '../ops/composite';
import * as init from './init';

/** Functional forms (torch.nn.functional). */
export const functional = {
  relu: C.relu,
  softmax: C.softmax,
  logSoftmax: C.logSoftmax,
  oneHot: C.oneHot,
};

export { init };
