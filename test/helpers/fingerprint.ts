// Prints a hash of several results (big reductions, matmul, random draws, elementwise), for
// comparing runs under different KILN_NUM_THREADS / KILN_ISA settings.
import * as kiln from '../../ts/index';
import { ResultHash } from './result_hash';

const hash = new ResultHash();
const add = (name: string, t: kiln.Tensor) => hash.add(name, t);
kiln.manualSeed(1234);
const x = kiln.randn([3, 1 << 18]);
add('randn', x);
add('rand', kiln.rand([1001, 3], { dtype: 'float64' }));
add('randint', kiln.randint(0, 100, [5000]));
add('sum all', x.sum());
add('sum dim1', x.sum(1));
add('sum dim0', x.sum(0));
add('sum dim0 chunked', kiln.randn([1500, 300]).sum(0));
add('amax', x.amax(1));
add('argmax', x.argmax(1));
add('exp', x.exp());
add('add', x.add(x.slice(1, 0, 1)));
const a = kiln.randn([300, 257]),
  b = kiln.randn([257, 130]);
add('matmul', a.matmul(b));
add('matmul t', b.t().matmul(a.t()));
add('bmm', kiln.randn([4, 65, 33]).matmul(kiln.randn([33, 17])));
// Shapes that cross the GEMM's K blocks, column blocks and thread split, and the GEMV paths.
const big = kiln.randn([203, 1111]),
  w = kiln.randn([777, 1111]);
add('gemm big (x @ w.T)', big.matmul(w.t()));
add('gemm big transposed A', big.t().matmul(kiln.randn([203, 515])));
add('linear relu', kiln.nn.functional.linear(big, w, kiln.randn([777]), { activation: 'relu' }));
add('gemv rows', kiln.randn([1, 3000]).matmul(kiln.randn([3000, 2100])));
add('gemv dots', kiln.randn([1, 3000]).matmul(kiln.randn([2100, 3000]).t()));
add('gemm bfloat16', big.to('bfloat16').matmul(w.t().to('bfloat16')));
add('gemm float16', big.to('float16').matmul(w.t().to('float16')));
add('gemv N=1', kiln.randn([2100, 3000]).matmul(kiln.randn([3000, 1])));
add('gemm float64', big.double().matmul(w.t().double()));
hash.print({ isa: kiln.info().isa });
