/**
 * matrixExp (torch.linalg.matrix_exp): the [13/13] Padé approximant with scaling and squaring
 * (Higham 2005), written with matmul and solve, so autograd differentiates it. The scaling is the
 * batch's largest 1-norm, so every matrix of a batch gets the same number of squarings.
 */
import { noGrad } from '../autograd/grad_mode';
import { eye } from '../creation';
import { scope } from '../memory';
import type { Tensor } from '../tensor';
import { solve } from './lu';
import { checkMatrices } from './stack';

// The [13/13] Padé coefficients b_0..b_13 and the 1-norm up to which it is accurate in double.
const B = [
  64764752532480000, 32382376266240000, 7771770303897600, 1187353796428800, 129060195264000, 10559470521600,
  670442572800, 33522128640, 1323241920, 40840800, 960960, 16380, 182, 1,
];
const THETA_13 = 5.371920351148152;

/**
 * e^A for square matrices [..., n, n].
 * @example
 * kiln.linalg.matrixExp(kiln.zeros([2, 2])); // the identity
 */
export function matrixExp(a: Tensor): Tensor {
  checkMatrices(a, 'matrixExp', 'A', true);
  const n = a._shape[a.ndim - 1];
  if (a.numel() === 0) return a.clone();
  return scope(() => {
    const norm1 = noGrad(() => a.abs().sum(-2).amax().item() as number);
    const s = norm1 > THETA_13 ? Math.ceil(Math.log2(norm1 / THETA_13)) : 0;
    const x = s ? a.div(2 ** s) : a;
    const I = eye(n, n, { dtype: a.dtype, device: a.device });
    const x2 = x.matmul(x),
      x4 = x2.matmul(x2),
      x6 = x4.matmul(x2);
    const u = x.matmul(
      x6
        .matmul(x6.mul(B[13]).add(x4.mul(B[11])).add(x2.mul(B[9])))
        .add(x6.mul(B[7]))
        .add(x4.mul(B[5]))
        .add(x2.mul(B[3]))
        .add(I.mul(B[1])),
    );
    const v = x6
      .matmul(x6.mul(B[12]).add(x4.mul(B[10])).add(x2.mul(B[8])))
      .add(x6.mul(B[6]))
      .add(x4.mul(B[4]))
      .add(x2.mul(B[2]))
      .add(I.mul(B[0]));
    let r = solve(v.sub(u), v.add(u));
    for (let i = 0; i < s; i++) r = r.matmul(r);
    return r;
  });
}
