// examples/mnist_data.ts: the MNIST digits of the `mnist` dev dependency load as [N, 1, 28, 28]
// normalised images with int64 labels 0..9, all 10,000 of them, grouped by digit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MEAN, STD, loadMnist } from '../../examples/mnist_data';

test('loadMnist(limit): the first `limit` digits of each class, shapes and labels', () => {
  const { images, labels } = loadMnist(3);
  assert.equal(images.shape, [30, 1, 28, 28]);
  assert.is(images.dtype, 'float32');
  assert.is(labels.dtype, 'int64');
  assert.equal(
    labels.toArray(),
    [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9],
  );
  const px = images.data() as Float32Array;
  const lo = (0 - MEAN) / STD,
    hi = (1 - MEAN) / STD;
  assert.ok(
    px.every((v) => v >= lo - 1e-5 && v <= hi + 1e-5),
    'pixels are (grey level in [0, 1] - MEAN) / STD',
  );
  assert.ok(Math.abs(px[0] - lo) < 1e-6, 'the corner of a digit is background');
  // Each image has ink: a real digit, not padding.
  for (let i = 0; i < 30; i++)
    assert.ok(
      px.subarray(i * 784, (i + 1) * 784).some((v) => v > 0),
      `image ${i}`,
    );
});

test('loadMnist(): all 10,000 digits, every class present', () => {
  const { images, labels } = loadMnist();
  assert.equal(images.shape, [10000, 1, 28, 28]);
  const counts = new Array<number>(10).fill(0);
  for (const l of labels.toArray() as number[]) counts[l]++;
  assert.is(
    counts.reduce((a, b) => a + b),
    10000,
  );
  assert.ok(
    counts.every((c) => c > 800 && c < 1200),
    JSON.stringify(counts),
  );
});

test.run();
