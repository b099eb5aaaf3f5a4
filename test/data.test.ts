import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { Rng } from '../src/random/rng.js';
import { binariseStochastic, binariseThreshold } from '../src/data/binarise.js';
import { CIFAR10_FILES, loadCifar10 } from '../src/data/cifar.js';
import { colourise, grayToRgb, MIN_COLOUR_CONTRAST, rgbToGray } from '../src/data/colour.js';
import { loadDataset } from '../src/data/datasets.js';
import { encodeIdx, readIdx, readIdxImages, readIdxLabels } from '../src/data/idx.js';
import { DataError, firstImages, type ImageSet } from '../src/data/image-set.js';
import { batchLevels, fixedLevels } from '../src/data/levels.js';
import { FASHION_MNIST_DIR, loadFashionMnist, loadMnist } from '../src/data/mnist.js';
import { heldOutImages, loadPngFolder } from '../src/data/png-folder.js';
import { decodePng, readPngImages } from '../src/data/png.js';
import { addDataOptions } from '../src/cli/options.js';
import { Command } from 'commander';
import { chunk, makePng } from './png-files.js';
import { levelsToUnit, quantise, quantisePixels } from '../src/data/quantise.js';

const root = mkdtempSync(join(tmpdir(), 'pixelcnn-data-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
function freshDir(): string {
  const d = join(root, `d${dirCount++}`);
  mkdirSync(d);
  return d;
}

/** Asserts fn throws a DataError whose message names `file` and matches `problem`. */
function throwsData(fn: () => unknown, file: string, problem: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected DataError, got ${String(e)}`);
    assert.ok(e.message.includes(file), `message '${e.message}' does not name ${file}`);
    assert.match(e.problem, problem);
    return true;
  });
}

const deflateRaw = (bytes: number[]) => deflateSync(Buffer.from(bytes));

function set1(pixels: number[], h: number, w: number): ImageSet {
  return { name: 't', count: pixels.length / (h * w), channels: 1, height: h, width: w, pixels: Uint8Array.from(pixels), labels: null, numClasses: 0 };
}

describe('quantise (numpy.digitize(x, arange(L)/L) - 1)', () => {
  // Expected values computed with numpy 2.4: np.digitize(xs, np.arange(L) / L) - 1.
  const cases: [number, number[], number[]][] = [
    [2, [0, 1, 0.5, 0.49999999999999994, 0.5000000000000001, 0.25, 0.999999], [0, 1, 1, 0, 1, 0, 1]],
    [4, [0, 1, 0.25, 0.24999999999999997, 0.25000000000000006, 0.5, 0.75, 0.7499999999999999, 0.9999999999999999], [0, 3, 1, 0, 1, 2, 3, 2, 3]],
    [256, [0, 1, 0.00390625, 0.0039062499999999996, 0.5, 127.5 / 255, 128 / 255, 0.99609375, 0.9960937499999999], [0, 255, 1, 0, 128, 128, 128, 255, 254]],
    [10, [0.3, 0.7, 0.29999999999999993, 0.6999999999999998], [3, 7, 2, 6]],
    // floor(x·L) is wrong for these: x·L rounds across the integer while x is on the other side of k/L.
    [6, [0.8333333333333333], [4]],
    [10, [0.8999999999999999], [8]],
    [100, [0.29, 0.57, 0.049999999999999996], [29, 57, 4]],
  ];
  for (const [L, xs, want] of cases) {
    test(`L=${L}: edges, just below/above edges, 0 and 1 match numpy`, () => {
      assert.deepEqual(Array.from(quantise(Float64Array.from(xs), L)), want);
    });
  }

  test('Float32 input is compared as its exact float64 value (0.7f < 0.7 → level 6 of 10)', () => {
    const xs = Float32Array.from([0.3, 0.7, 0.5, 0.1, 0.9, 1.0]);
    assert.deepEqual(Array.from(quantise(xs, 10)), [3, 6, 5, 1, 8, 9]);
  });

  test('writes into a given out array and checks its length', () => {
    const out = new Uint8Array(3);
    assert.equal(quantise(Float64Array.from([0, 0.5, 1]), 4, out), out);
    assert.deepEqual(Array.from(out), [0, 2, 3]);
    assert.throws(() => quantise(Float64Array.from([0, 1]), 4, out), RangeError);
  });

  test('out-of-range inputs clamp; NaN and bad level counts throw', () => {
    assert.deepEqual(Array.from(quantise(Float64Array.from([-0.5, -0, 1.5]), 4)), [0, 0, 3]);
    assert.throws(() => quantise(Float64Array.from([NaN]), 4), RangeError);
    for (const L of [0, 1, 257, 2.5]) assert.throws(() => quantise(new Float64Array(1), L), RangeError);
  });

  test('quantisePixels equals quantise(p/255) for all 256 intensities and several L', () => {
    const p = Uint8Array.from({ length: 256 }, (_, i) => i);
    const x = Float64Array.from(p, (v) => v / 255);
    for (const L of [2, 3, 4, 5, 10, 16, 100, 255, 256]) {
      assert.deepEqual(quantisePixels(p, L), quantise(x, L), `L=${L}`);
    }
  });

  test('quantisePixels level boundaries match numpy (L=2: 128; L=4: 64/128/192; L=3: 85/170; L=10: 26; L=256: identity)', () => {
    const q = (ps: number[], L: number) => Array.from(quantisePixels(Uint8Array.from(ps), L));
    assert.deepEqual(q([0, 127, 128, 255], 2), [0, 0, 1, 1]);
    assert.deepEqual(q([63, 64, 127, 128, 191, 192, 255], 4), [0, 1, 1, 2, 2, 3, 3]);
    assert.deepEqual(q([84, 85, 169, 170], 3), [0, 1, 1, 2]);
    assert.deepEqual(q([25, 26, 229, 230, 255], 10), [0, 1, 8, 9, 9]);
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    assert.deepEqual(quantisePixels(all, 256), all);
  });

  test('levelsToUnit maps label/(L-1): 0 → 0 and L-1 → exactly 1', () => {
    const out = new Float32Array(4);
    levelsToUnit(Uint8Array.from([0, 1, 2, 3]), 4, out);
    assert.deepEqual(Array.from(out), [0, Math.fround(1 / 3), Math.fround(2 / 3), 1]);
    const out256 = new Float32Array(1);
    levelsToUnit(Uint8Array.from([255]), 256, out256);
    assert.equal(out256[0], 1);
    assert.throws(() => levelsToUnit(new Uint8Array(2), 4, new Float32Array(3)), RangeError);
  });
});

describe('IDX reader', () => {
  const images = Uint8Array.from({ length: 3 * 2 * 4 }, (_, i) => (i * 37) & 255);
  const labels = Uint8Array.from([7, 0, 9]);

  test('round trip of plain IDX images and labels', () => {
    const d = freshDir();
    writeFileSync(join(d, 'img'), encodeIdx([3, 2, 4], images));
    writeFileSync(join(d, 'lbl'), encodeIdx([3], labels));
    const im = readIdxImages(join(d, 'img'));
    assert.deepEqual([im.count, im.height, im.width], [3, 2, 4]);
    assert.deepEqual(im.pixels, images);
    assert.deepEqual(readIdxLabels(join(d, 'lbl')), labels);
    assert.equal(encodeIdx([3], labels).readUInt32BE(0), 0x00000801);
    assert.equal(encodeIdx([3, 2, 4], images).readUInt32BE(0), 0x00000803);
  });

  test('gzip is detected by content, not name (gz under a plain name, plain under .gz)', () => {
    const d = freshDir();
    writeFileSync(join(d, 'img'), gzipSync(encodeIdx([3, 2, 4], images)));
    writeFileSync(join(d, 'lbl.gz'), encodeIdx([3], labels));
    assert.deepEqual(readIdxImages(join(d, 'img')).pixels, images);
    assert.deepEqual(readIdxLabels(join(d, 'lbl.gz')), labels);
    const any = readIdx(join(d, 'img'));
    assert.deepEqual(any.dims, [3, 2, 4]);
  });

  test('zero images is a valid (empty) file', () => {
    const d = freshDir();
    writeFileSync(join(d, 'empty'), encodeIdx([0, 28, 28], new Uint8Array(0)));
    assert.equal(readIdxImages(join(d, 'empty')).count, 0);
  });

  const good = encodeIdx([3, 2, 4], images);
  const malformed: [string, () => Buffer, RegExp, (typeof readIdx)?][] = [
    ['wrong magic (not an IDX file)', () => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), good.subarray(4)]), /wrong magic 0x89504e47/],
    ['label file read as images (magic 0x00000801 ≠ 0x00000803)', () => encodeIdx([3], labels), /wrong magic 0x00000801, expected 0x00000803/],
    ['unsupported data type (float32, 0x0d)', () => { const b = Buffer.from(good); b[2] = 0x0d; return b; }, /unsupported IDX data type 0x0d/],
    ['shorter than the magic', () => Buffer.from([0, 0]), /truncated/],
    ['truncated header', () => good.subarray(0, 10), /truncated: header needs 16 bytes/],
    ['truncated data', () => good.subarray(0, good.length - 1), /truncated: header declares 3×2×4 = 24/],
    ['size not matching header (extra bytes)', () => Buffer.concat([good, Buffer.from([1, 2])]), /size does not match header.*2 extra/],
  ];
  for (const [name, make, problem] of malformed) {
    for (const gz of [false, true]) {
      test(`${gz ? 'gzip' : 'plain'}: ${name} → DataError naming the file`, () => {
        const f = join(freshDir(), gz ? 'bad.gz' : 'bad');
        writeFileSync(f, gz ? gzipSync(make()) : make());
        throwsData(() => readIdxImages(f), f, problem);
      });
    }
  }

  test('absurd header (0xFFFFFFFF images of 28×28 in a 100-byte file) throws DataError at once without allocating', () => {
    for (const gz of [false, true]) {
      const f = join(freshDir(), 'absurd');
      const b = Buffer.alloc(100);
      b.writeUInt32BE(0x803, 0); b.writeUInt32BE(0xffffffff, 4); b.writeUInt32BE(28, 8); b.writeUInt32BE(28, 12);
      writeFileSync(f, gz ? gzipSync(b) : b);
      const before = process.memoryUsage().arrayBuffers;
      const t0 = performance.now();
      throwsData(() => readIdxImages(f), f, /truncated: header declares 4294967295×28×28 = 3367254359280 data bytes, file has 84/);
      assert.ok(performance.now() - t0 < 200, 'took too long');
      assert.ok(process.memoryUsage().arrayBuffers - before < 16 << 20, 'allocated a large buffer');
    }
  });

  test('absurd header with 255 huge dims (declared size overflows to Infinity) is still a DataError', () => {
    const f = join(freshDir(), 'overflow');
    const b = Buffer.alloc(4 + 4 * 255);
    b[2] = 8; b[3] = 255;
    for (let i = 0; i < 255; i++) b.writeUInt32BE(0xffffffff, 4 + 4 * i);
    writeFileSync(f, b);
    throwsData(() => readIdx(f), f, /truncated/);
  });

  test('gzip that decompresses beyond maxBytes is refused (zlib maxOutputLength)', () => {
    const f = join(freshDir(), 'bomb.gz');
    writeFileSync(f, gzipSync(encodeIdx([4096, 32, 32], new Uint8Array(4096 * 1024))));
    throwsData(() => readIdx(f, { maxBytes: 100_000 }), f, /decompresses to more than the limit of 100000/);
    assert.equal(readIdx(f).data.length, 4096 * 1024);
  });

  test('gzip inflates no further than its header declares: a bomb behind a small header costs little', () => {
    const f = join(freshDir(), 'bomb.gz');
    writeFileSync(f, gzipSync(Buffer.concat([encodeIdx([4, 8, 8], new Uint8Array(256)), Buffer.alloc(256 << 20)])));
    const before = process.memoryUsage().arrayBuffers;
    throwsData(() => readIdx(f), f, /size does not match header: decompresses to more than the 272 bytes it declares/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 << 20, 'inflated far past the declared size');
  });

  test('plain file whose consistent size exceeds maxBytes is refused', () => {
    const f = join(freshDir(), 'big');
    writeFileSync(f, encodeIdx([3, 2, 4], images));
    throwsData(() => readIdx(f, { maxBytes: 10 }), f, /exceeds the limit of 10/);
  });

  test('corrupt or truncated gzip → DataError', () => {
    const f = join(freshDir(), 'cut.gz');
    const z = gzipSync(good);
    writeFileSync(f, z.subarray(0, z.length - 12));
    throwsData(() => readIdx(f), f, /corrupt or truncated gzip/);
  });

  test('missing file and directory → DataError', () => {
    const d = freshDir();
    throwsData(() => readIdx(join(d, 'nope')), join(d, 'nope'), /file missing/);
    throwsData(() => readIdx(d), d, /is a directory/);
  });
});

describe('MNIST and Fashion-MNIST', () => {
  test('loadMnist: 60000 train / 10000 test images of 1×28×28 with labels < 10', () => {
    for (const [split, n, first] of [['train', 60000, 5], ['test', 10000, 7]] as const) {
      const s = loadMnist(split);
      assert.equal(s.name, `mnist:${split}`);
      assert.deepEqual([s.count, s.channels, s.height, s.width, s.numClasses], [n, 1, 28, 28, 10]);
      assert.equal(s.pixels.length, n * 784);
      assert.ok(s.labels && s.labels.length === n && s.labels.every((l) => l < 10));
      assert.equal(s.labels![0], first); // well-known first labels of MNIST
      const counts = new Array(10).fill(0);
      for (const l of s.labels!) counts[l]++;
      assert.ok(counts.every((c) => c > n / 20));
      let max = 0;
      for (const p of s.pixels.subarray(0, 784)) max = Math.max(max, p);
      assert.equal(max, 255);
    }
  });

  test('IDX pair whose image and label counts disagree → DataError naming both', () => {
    const d = freshDir();
    writeFileSync(join(d, 't10k-images-idx3-ubyte'), encodeIdx([2, 2, 2], new Uint8Array(8)));
    writeFileSync(join(d, 't10k-labels-idx1-ubyte.gz'), gzipSync(encodeIdx([3], new Uint8Array(3))));
    throwsData(() => loadMnist('test', d), join(d, 't10k-labels-idx1-ubyte.gz'), /3 labels but .*t10k-images-idx3-ubyte has 2 images/);
  });

  test('label ≥ 10 in an IDX label file → DataError', () => {
    const d = freshDir();
    writeFileSync(join(d, 't10k-images-idx3-ubyte'), encodeIdx([2, 2, 2], new Uint8Array(8)));
    writeFileSync(join(d, 't10k-labels-idx1-ubyte'), encodeIdx([2], Uint8Array.from([1, 10])));
    throwsData(() => loadMnist('test', d), 't10k-labels-idx1-ubyte', /label 10 at index 1/);
  });

  test('loadFashionMnist: missing directory → DataError with the apt-get hint', () => {
    const d = join(root, 'no-such-fashion');
    throwsData(() => loadFashionMnist('test', d), d, /apt-get install dataset-fashion-mnist/);
  });

  test('loadFashionMnist: 10000 test images 28×28 from the Debian package (skipped if not installed)',
    { skip: existsSync(FASHION_MNIST_DIR) ? false : `${FASHION_MNIST_DIR} absent (apt-get install dataset-fashion-mnist)` }, () => {
      const s = loadFashionMnist('test');
      assert.deepEqual([s.name, s.count, s.channels, s.height, s.width, s.numClasses], ['fashion-mnist:test', 10000, 1, 28, 28, 10]);
      assert.ok(s.labels!.every((l) => l < 10));
      assert.equal(s.labels![0], 9); // first Fashion-MNIST test item is an ankle boot
    });
});

describe('CIFAR-10 binary batches', () => {
  /** A record whose pixels encode (image id, channel) so the layout can be checked. */
  function batch(labels: number[], id0: number): Buffer {
    const b = Buffer.alloc(labels.length * 3073);
    labels.forEach((l, i) => {
      b[i * 3073] = l;
      for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) b[i * 3073 + 1 + c * 1024 + p] = (id0 + i) * 10 + c + (p === 1023 ? 100 : 0);
    });
    return b;
  }
  function fakeCifar(dir: string): void {
    CIFAR10_FILES.train.forEach((f, k) => writeFileSync(join(dir, f), batch([k, 9 - k], 2 * k)));
    writeFileSync(join(dir, 'test_batch.bin'), batch([3, 1, 4], 0));
  }

  test('valid fake batches: train concatenates batches 1..5 in order, records copied as CHW', () => {
    const d = freshDir();
    fakeCifar(d);
    const tr = loadCifar10(d, 'train');
    assert.deepEqual([tr.name, tr.count, tr.channels, tr.height, tr.width, tr.numClasses], ['cifar10:train', 10, 3, 32, 32, 10]);
    assert.deepEqual(Array.from(tr.labels!), [0, 9, 1, 8, 2, 7, 3, 6, 4, 5]);
    for (let n = 0; n < 10; n++) {
      for (let c = 0; c < 3; c++) {
        assert.equal(tr.pixels[n * 3072 + c * 1024], n * 10 + c);
        assert.equal(tr.pixels[n * 3072 + c * 1024 + 1023], n * 10 + c + 100);
      }
    }
    const te = loadCifar10(d, 'test');
    assert.deepEqual(Array.from(te.labels!), [3, 1, 4]);
    assert.equal(te.count, 3);
  });

  test('accepts the parent of cifar-10-batches-bin', () => {
    const d = freshDir();
    mkdirSync(join(d, 'cifar-10-batches-bin'));
    fakeCifar(join(d, 'cifar-10-batches-bin'));
    assert.equal(loadCifar10(d, 'test').count, 3);
  });

  test('missing batch files are all named', () => {
    const d = freshDir();
    fakeCifar(d);
    unlinkSync(join(d, 'data_batch_2.bin'));
    unlinkSync(join(d, 'data_batch_5.bin'));
    throwsData(() => loadCifar10(d, 'train'), d, /missing CIFAR-10 train batch files data_batch_2\.bin, data_batch_5\.bin/);
    throwsData(() => loadCifar10(join(d, 'nope'), 'train'), join(d, 'nope'), /directory missing/);
    throwsData(() => loadCifar10(join(d, 'data_batch_1.bin'), 'train'), 'data_batch_1.bin', /not a directory; expected the CIFAR-10 batch folder/);
  });

  test('size not a multiple of 3073 (and empty batch) → DataError naming the file', () => {
    const d = freshDir();
    fakeCifar(d);
    writeFileSync(join(d, 'test_batch.bin'), Buffer.concat([batch([1], 0), Buffer.alloc(5)]));
    throwsData(() => loadCifar10(d, 'test'), 'test_batch.bin', /size 3078 is not a positive multiple of the 3073/);
    writeFileSync(join(d, 'test_batch.bin'), Buffer.alloc(0));
    throwsData(() => loadCifar10(d, 'test'), 'test_batch.bin', /size 0/);
  });

  test('label ≥ 10 → DataError naming the file and record', () => {
    const d = freshDir();
    fakeCifar(d);
    writeFileSync(join(d, 'data_batch_3.bin'), batch([1, 10], 0));
    throwsData(() => loadCifar10(d, 'train'), 'data_batch_3.bin', /label 10 in record 1/);
  });
});

describe('PNG folder', () => {
  /** Writes a w×h PNG; `rgba(x, y)` gives the pixel. colorType 6 = RGBA, 0 = gray, 4 = gray+alpha. */
  function writePng(file: string, w: number, h: number, rgba: (x: number, y: number) => number[], colorType: 0 | 2 | 4 | 6 = 6): void {
    const png = new PNG({ width: w, height: h });
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) png.data.set(rgba(x, y), 4 * (y * w + x));
    writeFileSync(file, PNG.sync.write(png, { colorType }));
  }

  test('flat folder of RGBA PNGs: sorted by name, RGB planes, alpha composited over black, no labels', () => {
    const d = freshDir();
    writePng(join(d, 'b.png'), 3, 2, () => [200, 100, 50, 255]);
    writePng(join(d, 'a.png'), 3, 2, (x, y) => [x * 10, y * 20, 30, 255]);
    writePng(join(d, 'c.png'), 3, 2, () => [200, 100, 51, 128]);
    writeFileSync(join(d, 'notes.txt'), 'ignored');
    const s = loadPngFolder(d);
    assert.deepEqual([s.count, s.channels, s.height, s.width, s.labels, s.numClasses], [3, 3, 2, 3, null, 0]);
    assert.deepEqual(Array.from(s.pixels.subarray(0, 18)), [0, 10, 20, 0, 10, 20, 0, 0, 0, 20, 20, 20, 30, 30, 30, 30, 30, 30]);
    assert.deepEqual([s.pixels[18], s.pixels[18 + 6], s.pixels[18 + 12]], [200, 100, 50]);
    // alpha 128: round(v · 128/255)
    assert.deepEqual([s.pixels[36], s.pixels[36 + 6], s.pixels[36 + 12]], [100, 50, 26]);
  });

  test('channels: 1 gives luma round(0.299R + 0.587G + 0.114B) of the composited colour', () => {
    const d = freshDir();
    writePng(join(d, 'x.png'), 2, 1, (x) => (x === 0 ? [200, 100, 50, 255] : [255, 0, 0, 128]));
    const s = loadPngFolder(d, { channels: 1 });
    assert.equal(s.channels, 1);
    assert.deepEqual(Array.from(s.pixels), [Math.round(0.299 * 200 + 0.587 * 100 + 0.114 * 50), Math.round(0.299 * 255 * 128 / 255)]);
  });

  test('grayscale PNGs (colour types 0 and 4) load as one channel by default', () => {
    const d = freshDir();
    writePng(join(d, '0.png'), 2, 2, (x, y) => [x * 100 + y, x * 100 + y, x * 100 + y, 255], 0);
    writePng(join(d, '1.png'), 2, 2, () => [90, 90, 90, 51], 4);
    const s = loadPngFolder(d);
    assert.equal(s.channels, 1);
    assert.deepEqual(Array.from(s.pixels), [0, 100, 1, 101, 18, 18, 18, 18]);
    assert.equal(loadPngFolder(d, { channels: 3 }).channels, 3);
  });

  test('folder of class subfolders: labels = sorted subfolder index, classNames kept', () => {
    const d = freshDir();
    for (const [cls, files] of [['dog', ['2.png', '1.png']], ['cat', ['9.png']]] as const) {
      mkdirSync(join(d, cls));
      for (const f of files) writePng(join(d, cls, f), 2, 2, () => [cls === 'cat' ? 7 : Number(f[0]), 0, 0, 255]);
    }
    const s = loadPngFolder(d);
    assert.deepEqual(s.classNames, ['cat', 'dog']);
    assert.equal(s.numClasses, 2);
    assert.deepEqual(Array.from(s.labels!), [0, 1, 1]);
    assert.deepEqual([s.pixels[0], s.pixels[12], s.pixels[24]], [7, 1, 2]);
  });

  test('mismatched image size → DataError naming the first file that differs', () => {
    const d = freshDir();
    writePng(join(d, 'a.png'), 4, 4, () => [0, 0, 0, 255]);
    writePng(join(d, 'b.png'), 4, 4, () => [0, 0, 0, 255]);
    writePng(join(d, 'c.png'), 5, 4, () => [0, 0, 0, 255]);
    writePng(join(d, 'd.png'), 3, 3, () => [0, 0, 0, 255]);
    throwsData(() => loadPngFolder(d), join(d, 'c.png'), /is 5×4 but .*a\.png \(the first image\) is 4×4/);
  });

  test('not a directory, missing directory, no PNGs, undecodable PNG → DataError', () => {
    const d = freshDir();
    writeFileSync(join(d, 'file.txt'), 'x');
    throwsData(() => loadPngFolder(join(d, 'file.txt')), 'file.txt', /not a directory/);
    throwsData(() => loadPngFolder(join(d, 'nope')), 'nope', /directory missing/);
    throwsData(() => loadPngFolder(d), d, /no \.png files/);
    writePng(join(d, 'good.png'), 2, 2, () => [0, 0, 0, 255]);
    writeFileSync(join(d, 'junk.png'), 'not a png at all, just text padding to 40 bytes');
    throwsData(() => loadPngFolder(d), join(d, 'junk.png'), /cannot decode PNG/);
    const good = PNG.sync.write(Object.assign(new PNG({ width: 2, height: 2 }), {}));
    writeFileSync(join(d, 'junk.png'), good.subarray(0, 40)); // valid header, data cut off
    throwsData(() => loadPngFolder(d), join(d, 'junk.png'), /cannot decode PNG/);
  });
});

describe('PNG reader', () => {
  test('16-bit gray is rescaled to 8 bits; a 1-bit palette with tRNS is expanded and composited over black', () => {
    const d = freshDir();
    const g16 = join(d, 'g16.png');
    // 2×1, samples 0x1234 and 0xfedc: pngjs rescales v·255/65535, rounded.
    writeFileSync(g16, makePng({ width: 2, height: 1, bitDepth: 16, idat: deflateRaw([0, 0x12, 0x34, 0xfe, 0xdc]) }));
    assert.deepEqual(Array.from(readPngImages([g16]).pixels), [Math.round(0x1234 * 255 / 65535), Math.round(0xfedc * 255 / 65535)]);
    const pal = join(d, 'pal.png');
    writeFileSync(pal, makePng({ width: 3, height: 1, bitDepth: 1, colorType: 3, idat: deflateRaw([0, 0b01000000]),
      before: [chunk('PLTE', Buffer.from([10, 20, 30, 250, 200, 100])), chunk('tRNS', Buffer.from([255, 128]))] }));
    const s = readPngImages([pal]);
    assert.equal(s.channels, 3);
    // pixels: index 0, 1, 0; colour 1 at alpha 128 → round(v·128/255)
    assert.deepEqual(Array.from(s.pixels), [10, 125, 10, 20, 100, 20, 30, 50, 30]);
  });

  test('an interlaced image decodes to the same pixels as the plain one', () => {
    const d = freshDir();
    const img = new PNG({ width: 5, height: 7 });
    for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 41) & 255;
    const plain = PNG.sync.write(img, { colorType: 6 });
    writeFileSync(join(d, 'plain.png'), plain);
    // Re-pack the same pixels as Adam7 by hand: pass p holds the pixels (x0 + i·dx, y0 + j·dy).
    const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
    const raw: number[] = [];
    for (const [x0, y0, dx, dy] of passes) {
      if (x0 >= 5 || y0 >= 7) continue;
      for (let y = y0; y < 7; y += dy) {
        raw.push(0);
        for (let x = x0; x < 5; x += dx) raw.push(...img.data.subarray(4 * (y * 5 + x), 4 * (y * 5 + x) + 4));
      }
    }
    writeFileSync(join(d, 'adam7.png'), makePng({ width: 5, height: 7, colorType: 6, interlace: 1, idat: deflateRaw(raw) }));
    assert.deepEqual(decodePng(join(d, 'adam7.png')).rgba, decodePng(join(d, 'plain.png')).rgba);
  });

  test('the pixel cap is checked on the header, before decoding; maxPixels lowers or raises it', () => {
    const d = freshDir();
    const f = join(d, 'big.png');
    writeFileSync(f, makePng({ width: 100, height: 50 }));
    throwsData(() => readPngImages([f], { maxPixels: 4999 }), f, /PNG is 100×50 = 5000 pixels, more than the limit of 4999 \(raise it with --max-image-pixels\)/);
    assert.equal(readPngImages([f], { maxPixels: 5000 }).count, 1);
    // 5000×5000 is over the default cap of 4096×4096 but within a raised one: past the cap check,
    // the (deliberately short) image data is what fails.
    const g = join(d, 'g.png');
    writeFileSync(g, makePng({ width: 5000, height: 5000, idat: deflateRaw([0]) }));
    throwsData(() => readPngImages([g]), g, /more than the limit of 16777216/);
    throwsData(() => readPngImages([g], { maxPixels: 25e6 }), g, /image data inflates to 1 bytes, its 5000×5000 header implies 25005000/);
  });
});

describe('binarisation', () => {
  test('stochastic: mean of many draws ≈ intensity/255; 0 → always 0, 255 → always 1', () => {
    const n = 20000;
    const rng = new Rng(1);
    for (const p of [0, 1, 64, 128, 200, 254, 255]) {
      const out = binariseStochastic(new Uint8Array(n).fill(p), rng);
      const mean = out.reduce((a, b) => a + b, 0) / n;
      const q = p / 255;
      const sd = Math.sqrt((q * (1 - q)) / n);
      assert.ok(Math.abs(mean - q) <= 5 * sd + 1e-12, `p=${p}: mean ${mean} vs ${q}`);
      if (p === 0) assert.equal(mean, 0);
      if (p === 255) assert.equal(mean, 1);
    }
  });

  test('stochastic: deterministic given the seed, different for another seed', () => {
    const px = Uint8Array.from({ length: 1000 }, (_, i) => i % 256);
    assert.deepEqual(binariseStochastic(px, new Rng(42)), binariseStochastic(px, new Rng(42)));
    assert.notDeepEqual(binariseStochastic(px, new Rng(42)), binariseStochastic(px, new Rng(43)));
  });

  test('threshold: intensity ≥ 128 → 1, identical to quantisePixels with L=2', () => {
    const px = Uint8Array.from({ length: 256 }, (_, i) => i);
    const t = binariseThreshold(px);
    assert.deepEqual([t[127], t[128]], [0, 1]);
    assert.deepEqual(t, quantisePixels(px, 2));
  });
});

describe('colour', () => {
  const gray = set1([0, 255, 128, 10, 0, 255, 64, 200], 2, 2);

  test('grayToRgb tiles the plane three times; rgbToGray inverts it', () => {
    const rgb = grayToRgb(gray);
    assert.equal(rgb.channels, 3);
    assert.deepEqual(Array.from(rgb.pixels.subarray(0, 12)), [0, 255, 128, 10, 0, 255, 128, 10, 0, 255, 128, 10]);
    assert.deepEqual(rgbToGray(rgb).pixels, gray.pixels);
  });

  test('coloured MNIST: intensity 0 → background, 255 → foreground, blend rounded; contrast ≥ minimum', () => {
    const c = colourise(gray, new Rng(5));
    assert.equal(c.channels, 3);
    for (let n = 0; n < 2; n++) {
      // pixel 0 of each image has intensity 0 (pure background), pixel 1 intensity 255 (pure foreground)
      const bg = [0, 1, 2].map((ch) => c.pixels[n * 12 + ch * 4]);
      const fg = [0, 1, 2].map((ch) => c.pixels[n * 12 + ch * 4 + 1]);
      const luma = (v: number[]) => 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2];
      assert.ok(Math.abs(luma(fg) - luma(bg)) >= MIN_COLOUR_CONTRAST);
      for (let ch = 0; ch < 3; ch++) {
        for (let p = 0; p < 4; p++) {
          const a = gray.pixels[n * 4 + p] / 255;
          assert.equal(c.pixels[n * 12 + ch * 4 + p], Math.round(bg[ch] * (1 - a) + fg[ch] * a));
        }
      }
    }
  });

  test('coloured MNIST is deterministic given the seed and differs between seeds', () => {
    const m = firstImages(loadMnist('test'), 50);
    assert.deepEqual(colourise(m, new Rng(3)).pixels, colourise(m, new Rng(3)).pixels);
    assert.notDeepEqual(colourise(m, new Rng(3)).pixels, colourise(m, new Rng(4)).pixels);
  });
});

describe('loadDataset', () => {
  test('mnist with limit: first N images, labels and shape kept', () => {
    const s = loadDataset({ name: 'mnist', limit: 100 }, 'test');
    const full = loadMnist('test');
    assert.deepEqual([s.count, s.channels, s.pixels.length, s.labels!.length], [100, 1, 78400, 100]);
    assert.deepEqual(s.pixels, full.pixels.subarray(0, 78400));
  });

  test("colour 'coloured': deterministic given seed and split, train ≠ test colours, limit gives a prefix", () => {
    const a = loadDataset({ name: 'mnist', colour: 'coloured', seed: 7, limit: 20 }, 'test');
    const b = loadDataset({ name: 'mnist', colour: 'coloured', seed: 7, limit: 20 }, 'test');
    const c = loadDataset({ name: 'mnist', colour: 'coloured', seed: 8, limit: 20 }, 'test');
    const big = loadDataset({ name: 'mnist', colour: 'coloured', seed: 7, limit: 40 }, 'test');
    assert.equal(a.channels, 3);
    assert.deepEqual(a.pixels, b.pixels);
    assert.notDeepEqual(a.pixels, c.pixels);
    assert.deepEqual(big.pixels.subarray(0, a.pixels.length), a.pixels);
    // Same seed, different split: compare the colour pair of image 0 via its corner (background) pixel.
    const tr = loadDataset({ name: 'mnist', colour: 'coloured', seed: 7, limit: 20 }, 'train');
    const corners = (s: ImageSet) => Array.from({ length: 20 }, (_, n) => s.pixels[n * 2352]);
    assert.notDeepEqual(corners(tr), corners(a));
  });

  test("colour 'rgb' tiles MNIST", () => {
    const s = loadDataset({ name: 'mnist', colour: 'rgb', limit: 3 }, 'train');
    assert.equal(s.channels, 3);
    assert.deepEqual(s.pixels.subarray(0, 784), s.pixels.subarray(784, 1568));
  });

  test('png with train/ and test/ subfolders picks the split; cifar10 needs a path', () => {
    const d = freshDir();
    for (const [split, n] of [['train', 3], ['test', 2]] as const) {
      mkdirSync(join(d, split));
      for (let i = 0; i < n; i++) {
        const png = new PNG({ width: 2, height: 2 });
        png.data.fill(255);
        writeFileSync(join(d, split, `${i}.png`), PNG.sync.write(png));
      }
    }
    assert.equal(loadDataset({ name: 'png', path: d }, 'train').count, 3);
    const te = loadDataset({ name: 'png', path: d, colour: 'gray' }, 'test');
    assert.deepEqual([te.count, te.channels], [2, 1]);
    assert.throws(() => loadDataset({ name: 'cifar10' }, 'train'), /needs a path/);
  });

  test('png without train/ and test/: a fixed, seeded 10% (at least 1) is the test split, the same for any limit', () => {
    for (const n of [2, 9, 10, 25, 101]) {
      const held = heldOutImages(n);
      assert.equal(held.size, Math.max(1, Math.floor(n / 10)));
      assert.deepEqual([...heldOutImages(n)], [...held]);
      for (const i of held) assert.ok(Number.isInteger(i) && i >= 0 && i < n);
    }
    assert.equal(heldOutImages(1).size, 0);
    const d = freshDir();
    for (let i = 0; i < 25; i++) {
      const png = new PNG({ width: 1, height: 1 });
      png.data.set([i, i, i, 255]);
      writeFileSync(join(d, `${String(i).padStart(2, '0')}.png`), PNG.sync.write(png, { colorType: 0 }));
    }
    const tr = loadDataset({ name: 'png', path: d }, 'train'), te = loadDataset({ name: 'png', path: d }, 'test');
    assert.deepEqual([tr.count, te.count], [23, 2]);
    // Together the two splits are every image once; the test images are the held-out indices.
    assert.deepEqual([...tr.pixels, ...te.pixels].sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i));
    assert.deepEqual(Array.from(te.pixels), [...heldOutImages(25)].sort((a, b) => a - b));
    assert.match(tr.note ?? '', /training on 23 images of .*, testing on the 2 held out/);
    // --limit takes a prefix of each split; it does not change which images are held out.
    assert.deepEqual(Array.from(loadDataset({ name: 'png', path: d, limit: 1 }, 'test').pixels), Array.from(te.pixels.subarray(0, 1)));
    assert.deepEqual(Array.from(loadDataset({ name: 'png', path: d, limit: 5 }, 'train').pixels), Array.from(tr.pixels.subarray(0, 5)));
    const one = freshDir();
    writeFileSync(join(one, 'a.png'), PNG.sync.write(new PNG({ width: 1, height: 1 })));
    throwsData(() => loadDataset({ name: 'png', path: one }, 'test'), one, /has only 1 image, too few to hold one out for testing/);
  });

  test("the CLI's --colour has no default (the source's channels are kept); gray and rgb convert only when asked", () => {
    const opts = (...argv: string[]) => addDataOptions(new Command().exitOverride()).parse(argv, { from: 'user' }).opts();
    assert.equal(opts().colour, undefined);
    assert.equal(opts('--colour', 'gray').colour, 'gray');
    const d = freshDir();
    const png = new PNG({ width: 2, height: 1 });
    png.data.set([255, 0, 0, 255, 0, 0, 255, 255]);
    writeFileSync(join(d, 'rgb.png'), PNG.sync.write(png));
    assert.equal(loadDataset({ name: 'png', path: d, colour: opts().colour }, 'train').channels, 3);
    assert.equal(loadDataset({ name: 'png', path: d, colour: 'gray' }, 'train').channels, 1);
    assert.equal(loadDataset({ name: 'mnist', limit: 1, colour: opts().colour }, 'train').channels, 1);
  });

  test('unknown dataset, bad limit and coloured RGB data are named clearly; coloured gray PNGs work', () => {
    assert.throws(() => loadDataset({ name: 'imagenet' as never }, 'train'), /unknown dataset 'imagenet'; expected one of mnist, fashion-mnist, cifar10, emoji, png/);
    assert.throws(() => loadDataset({ name: 'mnist', limit: 0 }, 'train'), /limit must be a positive integer/);
    const d = freshDir();
    const png = new PNG({ width: 1, height: 1 });
    writeFileSync(join(d, 'a.png'), PNG.sync.write(png));
    assert.throws(() => loadDataset({ name: 'png', path: d, colour: 'coloured' }, 'train'), /needs a grayscale dataset/);
    const g = freshDir();
    const gp = new PNG({ width: 2, height: 1 });
    gp.data.set([0, 0, 0, 255, 255, 255, 255, 255]);
    writeFileSync(join(g, 'g.png'), PNG.sync.write(gp, { colorType: 0 }));
    const col = loadDataset({ name: 'png', path: g, colour: 'coloured', seed: 1 }, 'train');
    assert.deepEqual([col.channels, col.count], [3, 1]);
  });
});

describe('level labels for training', () => {
  const set: ImageSet = { ...set1(Array.from({ length: 3 * 16 }, (_, i) => (i * 17) % 256), 4, 4), name: 'tiny' };

  test('fixedLevels quantises for L>2 (equal to quantisePixels)', () => {
    assert.deepEqual(fixedLevels(set, { levels: 4 }, 0), quantisePixels(set.pixels, 4));
    assert.deepEqual(fixedLevels(set, { levels: 256 }, 0), set.pixels);
  });

  test('fixedLevels L=2: stochastic by default, one draw fixed by the seed; threshold on request', () => {
    const a = fixedLevels(set, { levels: 2 }, 11);
    assert.deepEqual(a, fixedLevels(set, { levels: 2, binarise: 'stochastic' }, 11));
    assert.deepEqual(a, binariseStochastic(set.pixels, new Rng(11)));
    assert.notDeepEqual(a, fixedLevels(set, { levels: 2 }, 12));
    assert.deepEqual(fixedLevels(set, { levels: 2, binarise: 'threshold' }, 11), binariseThreshold(set.pixels));
  });

  test('binarise with levels ≠ 2 and invalid levels are rejected', () => {
    assert.throws(() => fixedLevels(set, { levels: 4, binarise: 'threshold' }, 0), /only to levels = 2/);
    assert.throws(() => fixedLevels(set, { levels: 1 }, 0), RangeError);
  });

  test('batchLevels gathers images by index (quantised) and checks out size and indices', () => {
    const out = new Uint8Array(2 * 16);
    const rng = new Rng(0);
    const before = rng.state();
    batchLevels(set, [2, 0], { levels: 4 }, rng, out);
    const all = quantisePixels(set.pixels, 4);
    assert.deepEqual(out.subarray(0, 16), all.subarray(32, 48));
    assert.deepEqual(out.subarray(16), all.subarray(0, 16));
    assert.deepEqual(rng.state(), before, 'rng untouched when quantising');
    assert.throws(() => batchLevels(set, [0], { levels: 4 }, rng, out), /expected 1 × 16/);
    assert.throws(() => batchLevels(set, [0, 3], { levels: 4 }, rng, out), /index 3 out of range/);
  });

  test('batchLevels L=2 stochastic draws afresh on each use; threshold is fixed', () => {
    const mid = { ...set1(new Array(64).fill(128), 8, 8), name: 'mid' };
    const rng = new Rng(9);
    const a = new Uint8Array(64), b = new Uint8Array(64);
    batchLevels(mid, [0], { levels: 2 }, rng, a);
    batchLevels(mid, [0], { levels: 2 }, rng, b);
    assert.notDeepEqual(a, b);
    const again = new Uint8Array(64);
    batchLevels(mid, [0], { levels: 2 }, new Rng(9), again);
    assert.deepEqual(again, a);
    batchLevels(mid, [0], { levels: 2, binarise: 'threshold' }, rng, a);
    assert.ok(a.every((v) => v === 1));
  });
});
