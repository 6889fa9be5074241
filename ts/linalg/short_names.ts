/** The torch.* and Tensor.* names of linalg functions (torch.inverse, torch.det, Tensor.pinverse ...). */
export { det, inv, logdet, slogdet } from './lu';
export { matrixPower, pinv } from './derived';
