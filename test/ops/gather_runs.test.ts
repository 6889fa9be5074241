// gather's two inner loops (native/cpu/index.cpp): a contiguous run under one index (indexSelect's
// rows, an expanded index) copied at once, and element by element for each dtype width; values
// against the index, negative indices, and a bad index on either path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';
import { throwsCode } from '../helpers/compare';

const rowsOf = (t: kiln.Tensor) => t.to('float64').toArray() as number[][];

test('indexSelect rows and columns, negative indices, every dtype width', () => {
  for (const dtype of ['float32', 'float64', 'bfloat16', 'uint8', 'int64'] as kiln.DType[]) {
    const x = kiln
      .arange(0, 50 * 37)
      .remainder(200)
      .to(dtype)
      .reshape([50, 37]);
    const xs = rowsOf(x);
    const idx = kiln.tensor([3, -1, 0, 49, 3, -50], { dtype: 'int64' });
    const want = [3, 49, 0, 49, 3, 0];
    assert.equal(
      rowsOf(x.indexSelect(0, idx)),
      want.map((r) => xs[r]),
      `${dtype} rows`,
    );
    const cidx = kiln.tensor([36, 0, -2], { dtype: 'int32' });
    assert.equal(
      rowsOf(x.indexSelect(1, cidx)),
      xs.map((row) => [row[36], row[0], row[35]]),
      `${dtype} columns`,
    );
    for (const t of [x, idx, cidx]) t.dispose();
  }
});

test('a bad index is an ERR_INDEX on the run path and the element path', () => {
  const x = kiln.zeros([8, 20]);
  throwsCode(() => x.indexSelect(0, kiln.tensor([1, 8], { dtype: 'int64' })), 'ERR_INDEX', 'rows');
  throwsCode(() => x.indexSelect(0, kiln.tensor([-9], { dtype: 'int64' })), 'ERR_INDEX', 'rows, negative');
  throwsCode(() => x.indexSelect(1, kiln.tensor([0, 20], { dtype: 'int64' })), 'ERR_INDEX', 'columns');
  x.dispose();
});

test.run();
