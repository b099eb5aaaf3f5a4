import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PNG } from 'pngjs';
import { rgbToGray } from '../src/data/colour.js';
import { loadDataset } from '../src/data/datasets.js';
import {
  downsampleOverWhite, EMOJI_CATEGORIES, EMOJI_IMAGE_DIR, EMOJI_SIZE, emojiDataDir, emojiSplits, type EmojiImage,
} from '../src/data/emoji.js';
import { DataError } from '../src/data/image-set.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';

const root = mkdtempSync(join(tmpdir(), 'pixelcnn-emoji-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
const bin = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bin', 'pixelcnn.js');
function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 600_000 }); // generous: CI machines are shared
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface Entry { image: string; category: string; has_img_twitter: boolean; skin_variations?: Record<string, { image: string; has_img_twitter: boolean }> }
const pkg = emojiDataDir();
const entries = JSON.parse(readFileSync(join(pkg, 'emoji.json'), 'utf8')) as Entry[];
// Read once: every other test compares with this.
const splits = emojiSplits();
const splitOf = new Map<string, 'train' | 'test'>([
  ...splits.train.map((im) => [im.file, 'train'] as const), ...splits.test.map((im) => [im.file, 'test'] as const),
]);
const skinTone = /-1f3f[b-f]/g;

/**
 * A 64×64 RGBA source: opaque red at x 0-1, y 0-1; opaque black at (2,0), (2,1); transparent red at
 * (3,0), (3,1); half-transparent blue at (4,0); the rest transparent. In 2×2 blocks: red, half black
 * half transparent, one blue pixel; in the 4×4 block (0,0): four red, two black, ten transparent.
 */
function sourceImage(): Uint8Array {
  const rgba = new Uint8Array(64 * 64 * 4);
  const put = (x: number, y: number, v: number[]) => rgba.set(v, (y * 64 + x) * 4);
  for (const [x, y] of [[0, 0], [1, 0], [0, 1], [1, 1]]) put(x, y, [255, 0, 0, 255]);
  put(2, 0, [0, 0, 0, 255]); put(3, 0, [255, 0, 0, 0]); put(2, 1, [0, 0, 0, 255]); put(3, 1, [255, 0, 0, 0]);
  put(4, 0, [0, 0, 255, 128]);
  return rgba;
}

describe('emoji data set (emoji-datasource-twitter)', () => {
  test('splits: every listed image once (byte-identical copies dropped), about 10% held out, no group in both', () => {
    const listed = new Set(entries.flatMap((e) => [e, ...Object.values(e.skin_variations ?? {})]).filter((v) => v.has_img_twitter).map((v) => v.image));
    assert.equal(splits.train.length + splits.test.length + splits.duplicates, listed.size);
    assert.equal(splitOf.size, splits.train.length + splits.test.length, 'no file in both splits');
    assert.ok(splits.duplicates > 0 && splits.duplicates < 100, `${splits.duplicates} duplicates`);
    const fraction = splits.test.length / splitOf.size;
    assert.ok(fraction > 0.08 && fraction < 0.12, `test fraction ${fraction}`);
    const trainGroups = new Set(splits.train.map((im) => im.group));
    assert.deepEqual(splits.test.filter((im) => trainGroups.has(im.group)), []);
  });

  test('skin-tone variants share their emoji\'s split (skin_variations and file names)', () => {
    let grouped = 0;
    for (const e of entries) {
      const own = [e, ...Object.values(e.skin_variations ?? {})].map((v) => splitOf.get(v.image)).filter((s) => s !== undefined);
      assert.equal(new Set(own).size <= 1, true, `${e.image}: variants in both splits`);
      if (own.length > 1) grouped++;
    }
    assert.ok(grouped > 300, `${grouped} emoji with skin tones`);
    // By name alone: files equal once skin-tone modifiers are removed are in one split.
    const byName = new Map<string, Set<string>>();
    for (const [file, split] of splitOf) {
      const base = file.replace(skinTone, '');
      byName.set(base, (byName.get(base) ?? new Set()).add(split));
    }
    assert.deepEqual([...byName].filter(([, s]) => s.size > 1), []);
    assert.equal(splitOf.get('1f44b.png'), splitOf.get('1f44b-1f3ff.png'), 'waving hand and its dark skin tone');
  });

  test('the split and order are fixed: the same on every call, whatever --seed and --limit', () => {
    const again = emojiSplits();
    const files = (a: EmojiImage[]) => a.map((im) => im.file);
    assert.deepEqual(files(again.train), files(splits.train));
    assert.deepEqual(files(again.test), files(splits.test));
    const a = loadDataset({ name: 'emoji', limit: 6, seed: 1 }, 'test');
    const b = loadDataset({ name: 'emoji', limit: 3, seed: 2 }, 'test');
    assert.deepEqual(b.pixels, a.pixels.subarray(0, b.pixels.length), '--limit takes a prefix of the fixed order');
    assert.deepEqual(b.labels, a.labels!.subarray(0, 3));
  });

  test('images: 3×32×32 over white, colour; labels are the emoji.json categories', () => {
    const s = loadDataset({ name: 'emoji', limit: 24 }, 'train');
    assert.deepEqual([s.name, s.count, s.channels, s.height, s.width, s.pixels.length], ['emoji:train', 24, 3, 32, 32, 24 * 3 * 32 * 32]);
    assert.equal(s.numClasses, 10);
    assert.deepEqual(s.classNames, [...EMOJI_CATEGORIES]);
    assert.match(s.note!, /Twemoji graphics © Twitter, Inc and other contributors, CC-BY 4\.0/);
    const category = new Map(entries.flatMap((e) => [e, ...Object.values(e.skin_variations ?? {})].map((v) => [v.image, e.category] as const)));
    splits.train.slice(0, 24).forEach((im, n) => assert.equal(EMOJI_CATEGORIES[s.labels![n]], category.get(im.file), im.file));
    for (const im of [...splits.train, ...splits.test]) assert.ok(im.label >= 0 && im.label < 10);
    // Transparent corners are white; some pixel somewhere is coloured (R ≠ B).
    const plane = 32 * 32;
    let whiteCorners = 0, coloured = false;
    for (let n = 0; n < s.count; n++) {
      if ([0, 1, 2].every((c) => s.pixels[(3 * n + c) * plane] === 255)) whiteCorners++;
      for (let p = 0; p < plane && !coloured; p++) coloured = Math.abs(s.pixels[3 * n * plane + p] - s.pixels[(3 * n + 2) * plane + p]) > 64;
    }
    assert.ok(whiteCorners >= 12, `${whiteCorners} of 24 with a white corner`);
    assert.ok(coloured);
  });

  test('downsampling averages premultiplied alpha, then composites over white', () => {
    const rgba = sourceImage();
    const out = new Uint8Array(3 * EMOJI_SIZE * EMOJI_SIZE + 5);
    downsampleOverWhite(rgba, out, 5);
    const px = (x: number) => [0, 1, 2].map((c) => out[5 + c * EMOJI_SIZE * EMOJI_SIZE + x]);
    assert.deepEqual(px(0), [255, 0, 0]);
    assert.deepEqual(px(1), [128, 128, 128], 'half black, half white: the transparent red does not bleed in');
    const b = 255 - Math.round(128 / 4);
    assert.deepEqual(px(2), [b, b, 255]);
    assert.deepEqual(px(3), [255, 255, 255], 'fully transparent is white');
  });

  test('--size 16 averages 4×4 blocks and 64 keeps the source, both over white; other sizes are refused', () => {
    const rgba = sourceImage();
    const small = new Uint8Array(3 * 16 * 16);
    downsampleOverWhite(rgba, small, 0, 16);
    const at = (img: Uint8Array, side: number, x: number) => [0, 1, 2].map((c) => img[c * side * side + x]);
    // (4·255 red + 10·255 white) / 16 for red; 10·255 / 16 for green and blue.
    assert.deepEqual(at(small, 16, 0), [223, 159, 159]);
    assert.deepEqual(at(small, 16, 1), [247, 247, 255]);
    assert.deepEqual(at(small, 16, 2), [255, 255, 255]);
    const full = new Uint8Array(3 * 64 * 64);
    downsampleOverWhite(rgba, full, 0, 64);
    assert.deepEqual([0, 2, 3, 4].map((x) => at(full, 64, x)), [[255, 0, 0], [0, 0, 0], [255, 255, 255], [127, 127, 255]]);
    assert.throws(() => downsampleOverWhite(rgba, full, 0, 20), /emoji size 20 is not one of 16, 32, 64/);

    const set = loadDataset({ name: 'emoji', limit: 3, size: 16 }, 'test');
    assert.deepEqual([set.count, set.channels, set.height, set.width, set.pixels.length], [3, 3, 16, 16, 3 * 3 * 256]);
    assert.deepEqual(Array.from(set.labels!), Array.from(loadDataset({ name: 'emoji', limit: 3 }, 'test').labels!));
    assert.throws(() => loadDataset({ name: 'emoji', limit: 1, size: 8 }, 'test'), /emoji images can be 16, 32, 64 pixels wide, not 8/);
  });

  test("--colour gray converts by luma; 'coloured' needs gray data", () => {
    const rgb = loadDataset({ name: 'emoji', limit: 4 }, 'test');
    const gray = loadDataset({ name: 'emoji', limit: 4, colour: 'gray' }, 'test');
    assert.equal(gray.channels, 1);
    assert.deepEqual(gray.pixels, rgbToGray(rgb).pixels);
    assert.throws(() => loadDataset({ name: 'emoji', limit: 4, colour: 'coloured' }, 'test'), /needs a grayscale dataset/);
  });

  test('a folder of the package layout: groups by skin_variations and by name; wrong sizes and missing files are named', () => {
    const dir = join(root, 'layout');
    mkdirSync(join(dir, EMOJI_IMAGE_DIR), { recursive: true });
    const png = (file: string, size = 64) => {
      const img = new PNG({ width: size, height: size });
      img.data.fill(200);
      writeFileSync(join(dir, EMOJI_IMAGE_DIR, file), PNG.sync.write(img));
    };
    const tone = (image: string) => ({ image, has_img_twitter: true });
    const list = [
      // U+261D's base has U+FE0F, its variants not: one group through skin_variations.
      { image: '261d-fe0f.png', category: 'People & Body', has_img_twitter: true, skin_variations: { '1F3FB': tone('261d-1f3fb.png') } },
      // Listed as separate emoji, grouped by name.
      { image: '1f44b.png', category: 'People & Body', has_img_twitter: true },
      { image: '1f44b-1f3ff.png', category: 'People & Body', has_img_twitter: true },
      { image: '1f600.png', category: 'Smileys & Emotion', has_img_twitter: true },
      { image: '1f601.png', category: 'Smileys & Emotion', has_img_twitter: false },
    ];
    writeFileSync(join(dir, 'emoji.json'), JSON.stringify(list));
    for (const f of ['261d-fe0f.png', '261d-1f3fb.png', '1f44b.png', '1f44b-1f3ff.png']) png(f);
    const img = new PNG({ width: 64, height: 64 });
    img.data.fill(7);
    writeFileSync(join(dir, EMOJI_IMAGE_DIR, '1f600.png'), PNG.sync.write(img));
    const s = emojiSplits(dir);
    const all = [...s.train, ...s.test];
    assert.equal(s.duplicates, 3, 'four images of value 200: one kept');
    assert.equal(all.length, 2);
    const groups = new Map(all.map((im) => [im.file, im.group]));
    assert.equal(groups.get('1f600.png'), '1f600.png');
    assert.equal(all.find((im) => im.file !== '1f600.png')!.group, '1f44b.png');
    // Without the deduplication: distinct images, the same groups.
    for (const f of ['261d-1f3fb.png', '1f44b.png', '1f44b-1f3ff.png']) {
      const p = new PNG({ width: 64, height: 64 });
      p.data.fill(f.length);
      p.data[0] = f.charCodeAt(2);
      writeFileSync(join(dir, EMOJI_IMAGE_DIR, f), PNG.sync.write(p));
    }
    const t = emojiSplits(dir);
    assert.equal(t.duplicates, 0);
    assert.deepEqual(new Map([...t.train, ...t.test].map((im) => [im.file, im.group])), new Map([
      ['1f44b-1f3ff.png', '1f44b.png'], ['1f44b.png', '1f44b.png'], ['1f600.png', '1f600.png'], ['261d-1f3fb.png', '261d.png'], ['261d-fe0f.png', '261d.png'],
    ]));
    const both = (split: 'train' | 'test') => {
      try { return loadDataset({ name: 'emoji', path: dir }, split).count; } catch (e) { if (e instanceof DataError && /no emoji in the/.test(e.message)) return 0; throw e; }
    };
    assert.equal(both('train') + both('test'), 5);

    png('1f44b.png', 32);
    const split = t.train.some((im) => im.file === '1f44b.png') ? 'train' : 'test';
    assert.throws(() => loadDataset({ name: 'emoji', path: dir }, split),
      (e: unknown) => e instanceof DataError && e.message === `${join(dir, EMOJI_IMAGE_DIR, '1f44b.png')}: is 32×32; the emoji data set reads 64×64 images`);
    rmSync(join(dir, EMOJI_IMAGE_DIR, '1f44b.png'));
    assert.throws(() => emojiSplits(dir), (e: unknown) => e instanceof DataError && e.file === join(dir, EMOJI_IMAGE_DIR, '1f44b.png') && /missing/.test(e.problem));
    writeFileSync(join(dir, 'emoji.json'), JSON.stringify([{ image: '../../x.png', category: 'Flags', has_img_twitter: true }]));
    assert.throws(() => emojiSplits(dir), /emoji\.json: emoji 0: image "\.\.\/\.\.\/x\.png" is not a file name like 1f600\.png/);
    writeFileSync(join(dir, 'emoji.json'), JSON.stringify([{ image: '1f600.png', category: 'Nope', has_img_twitter: true }]));
    assert.throws(() => emojiSplits(dir), /emoji 0: category "Nope" is not one of Smileys & Emotion/);
    writeFileSync(join(dir, 'emoji.json'), '{');
    assert.throws(() => emojiSplits(dir), /emoji\.json: not valid JSON/);
  });

  test('the package not installed: one line with the fix', () => {
    assert.throws(() => emojiDataDir(pathToFileURL(join(root, 'nowhere.js'))), (e: unknown) => e instanceof Error &&
      e.message === "data set 'emoji' needs the npm package emoji-datasource-twitter, which is not installed: npm install --save-dev emoji-datasource-twitter");
  });

  test('CLI: --data-dir without the layout is a one-line error naming the folder; train → eval end to end', () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    const out = join(root, 'model');
    const bad = cli('train', '--dataset', 'emoji', '--data-dir', empty, '--steps', '1', '--no-progress', '--out', out);
    assert.equal(bad.code, 1);
    assert.equal(bad.err, `pixelcnn: error: ${empty}: has no emoji.json; data set 'emoji' reads the layout of the npm package emoji-datasource-twitter (emoji.json and img/twitter/64/*.png)\n`);

    const t = cli('train', '--dataset', 'emoji', '--limit', '64', '--steps', '2', '--conditional', '--arch', 'gated', '--levels', '4',
      '--hidden', '8', '--layers', '2', '--batch', '8', '--samples', '2', '--no-progress', '--out', out);
    assert.equal(t.code, 0, t.err);
    assert.match(t.err, /emoji \(Twemoji graphics © Twitter, Inc and other contributors, CC-BY 4\.0\): \d+ training images, \d+ held out/);
    assert.match(t.err, /3×32×32, 4 levels, 10 classes/);
    assert.match(t.out, /test bits\/dim: \d+\.\d+ .*\(64 images\)/);
    const ck = loadCheckpoint(out);
    assert.equal(ck.training?.dataset?.name, 'emoji');
    const e = cli('eval', '--model', out, '--limit', '16', '--json');
    assert.equal(e.code, 0, e.err);
    const r = JSON.parse(e.out) as { images: number; dims_per_image: number };
    assert.deepEqual([r.images, r.dims_per_image], [16, 3072]);
  });

  test('CLI --size: a 16×16 model is trained, recorded and evaluated on 16×16 emoji; the flag is refused elsewhere', () => {
    const out = join(root, 'model16');
    const t = cli('train', '--dataset', 'emoji', '--size', '16', '--flip', '--limit', '32', '--steps', '2', '--arch', 'gated', '--levels', '4',
      '--hidden', '8', '--layers', '2', '--batch', '8', '--samples', '0', '--no-progress', '--out', out);
    assert.equal(t.code, 0, t.err);
    assert.match(t.err, /3×16×16, 4 levels/);
    const ck = loadCheckpoint(out);
    assert.equal(ck.training?.dataset?.size, 16);
    assert.equal(ck.training?.options?.flip, true);
    // --resume continues the flips and the size without being told.
    const r = cli('train', '--steps', '3', '--resume', '--samples', '0', '--no-progress', '--out', out);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /3×16×16, 4 levels/);
    assert.equal(loadCheckpoint(out).training?.options?.flip, true);
    // eval takes the size from the checkpoint.
    const e = cli('eval', '--model', out, '--limit', '8', '--json');
    assert.equal(e.code, 0, e.err);
    assert.equal((JSON.parse(e.out) as { dims_per_image: number }).dims_per_image, 768);
    const other = cli('train', '--dataset', 'mnist', '--size', '16', '--steps', '1', '--no-progress', '--out', join(root, 'no'));
    assert.equal(other.code, 1);
    assert.equal(other.err, 'pixelcnn: error: --size applies to --dataset emoji only; mnist images have their own size\n');
    const odd = cli('train', '--dataset', 'emoji', '--size', '24', '--steps', '1', '--no-progress', '--out', join(root, 'no'));
    assert.equal(odd.code, 1);
    assert.equal(odd.err, 'pixelcnn: error: --size must be one of 16, 32, 64 for emoji, got 24\n');
  });
});
