// CUDA: this build has no CUDA backend (it arrives with its own issue). The suite says so and
// checks that every CUDA request fails cleanly with ERR_NOT_COMPILED and a way to fix it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as kiln from '../../ts/index';

if (!kiln.cuda.isAvailable())
  console.log('cuda tests: skipped (this build has no CUDA backend; kiln.info().cuda is false)');

test('CUDA requests fail with ERR_NOT_COMPILED and say how to get CUDA', () => {
  assert.is(kiln.info().cuda, false);
  assert.is(kiln.cuda.deviceCount(), 0);
  try {
    kiln.ones([2], { device: 'cuda' });
    assert.unreachable('no error');
  } catch (e) {
    assert.is((e as kiln.KilnError).code, 'ERR_NOT_COMPILED');
    assert.match((e as Error).message, /KILN_CUDA=1 npm install kiln/);
  }
});

test.run();
