/**
 * `pixelcnn serve`'s HTTP server: only its own assets and the model's two files are reachable.
 * Requests are written byte for byte on a socket (fetch would normalise `..` away).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel } from '../src/models/index.js';
import { saveCheckpoint } from '../src/train/checkpoint.js';
import { modelIndexEntry, startServer, type ModelIndexEntry, type RunningServer } from '../src/serve/server.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(repoRoot, 'bin', 'pixelcnn.js');
const root = mkdtempSync(join(tmpdir(), 'pixelcnn-serve-'));
const modelDir = join(root, 'model');
const webDir = join(root, 'web');
const SECRET = 'TOP-SECRET-MARKER';
let srv: RunningServer;

interface RawResponse { status: number; headers: Record<string, string>; body: Buffer }

/** Sends `head` (+ body) verbatim and reads the response until the server closes the connection. */
function raw(head: string, body: Buffer | string = ''): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = connect(srv.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', (e) => (chunks.length ? finish() : reject(e))); // a reset after the response is fine
    sock.on('close', finish);
    sock.setTimeout(5000, () => sock.destroy(new Error('timeout')));
    let done = false;
    function finish() {
      if (done) return;
      done = true;
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      if (split < 0) return reject(new Error(`no HTTP response: ${JSON.stringify(all.toString('latin1').slice(0, 200))}`));
      const lines = all.subarray(0, split).toString('latin1').split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) { const i = l.indexOf(':'); headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim(); }
      resolve({ status, headers, body: all.subarray(split + 4) });
    }
    sock.write(head);
    if (body.length) sock.write(body, () => { /* may fail once the server closed; ignored */ });
  });
}

const get = (path: string, method = 'GET', extra = '') =>
  raw(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\nConnection: close\r\n${extra}\r\n`);

before(async () => {
  const model = createModel({ arch: 'pixelcnn', channels: 1, levels: 2, likelihood: 'softmax', height: 8, width: 8, numClasses: 0, hidden: 4, outHidden: 4, blocks: 1 });
  saveCheckpoint(modelDir, { modelConfig: { ...model.config }, params: model.parameters(), metrics: { test_bits_per_dim: 0.5 } });
  writeFileSync(join(modelDir, 'notes.txt'), `${SECRET} notes\n`);
  // A small app directory with links that lead out of it.
  mkdirSync(join(webDir, 'assets', 'sub'), { recursive: true });
  writeFileSync(join(webDir, 'index.html'), '<!doctype html><title>t</title>\n');
  writeFileSync(join(webDir, 'assets', 'app.js'), 'console.log(1);\n');
  writeFileSync(join(webDir, 'assets', 'style.css'), 'body{}\n');
  writeFileSync(join(webDir, 'assets', 'sub', 'data.json'), '{"a":1}\n');
  writeFileSync(join(webDir, 'assets', 'k.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  writeFileSync(join(webDir, 'assets', 'swap.js'), 'console.log(2);\n');
  writeFileSync(join(root, 'secret.txt'), `${SECRET}\n`);
  mkdirSync(join(root, 'outside'));
  writeFileSync(join(root, 'outside', 'x.js'), `${SECRET}\n`);
  symlinkSync(join(root, 'secret.txt'), join(webDir, 'assets', 'evil.js'));
  symlinkSync('../../secret.txt', join(webDir, 'assets', 'evil2.js'));
  symlinkSync(join(root, 'outside'), join(webDir, 'assets', 'outdir'));
  symlinkSync('app.js', join(webDir, 'assets', 'alias.js')); // stays inside: fine
  srv = await startServer({ models: [{ name: 'model', dir: modelDir }], webDir, port: 0 });
});

after(async () => {
  await srv?.close();
  rmSync(root, { recursive: true, force: true });
});

test('serves the page, its assets and the model files with their bytes and types', async () => {
  assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const page = await get('/');
  assert.equal(page.status, 200);
  assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  assert.match(page.headers['content-security-policy'], /default-src 'none'/);
  assert.equal((await get('/index.html')).status, 200);
  const js = await get('/assets/app.js');
  assert.equal(js.status, 200);
  assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(js.body.toString(), 'console.log(1);\n');
  assert.equal((await get('/assets/style.css')).headers['content-type'], 'text/css; charset=utf-8');
  assert.equal((await get('/assets/sub/data.json')).headers['content-type'], 'application/json; charset=utf-8');
  assert.equal((await get('/assets/alias.js')).status, 200);
  assert.equal((await get('/assets/app.js?v=3')).status, 200, 'a query string is ignored');

  const config = await get('/models/model/config.json');
  assert.equal(config.status, 200);
  assert.equal(config.headers['content-type'], 'application/json; charset=utf-8');
  assert.deepEqual(config.body, readFileSync(join(modelDir, 'config.json')));
  const weights = await get('/models/model/model.safetensors');
  assert.equal(weights.status, 200);
  assert.equal(weights.headers['content-type'], 'application/octet-stream');
  assert.deepEqual(weights.body, readFileSync(join(modelDir, 'model.safetensors')));
  const head = await get('/models/model/model.safetensors', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(Number(head.headers['content-length']), weights.body.length);
  assert.equal(head.body.length, 0);
});

test('the index names the data set of a checkpoint\'s record ({ name }) and of an older one (\'mnist:train\')', () => {
  const dir = join(root, 'recorded');
  mkdirSync(dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  for (const [dataset, want] of [
    [{ name: 'emoji', dataDir: null, colour: null, binarise: null, limit: null }, 'emoji'], ['mnist:train', 'mnist'], [42, null],
  ] as const) {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, training: { step: 0, dataset } }));
    assert.equal(modelIndexEntry({ name: 'recorded', dir }, false).dataset, want);
  }
});

test('several models: an index for the picker, each model\'s files and card under its name, bad names refused', async () => {
  const other = join(root, 'other model');
  mkdirSync(other, { recursive: true });
  copyFileSync(join(modelDir, 'config.json'), join(other, 'config.json'));
  copyFileSync(join(modelDir, 'model.safetensors'), join(other, 'model.safetensors'));
  writeFileSync(join(other, 'README.md'), '# Other model\n\ncard\n');
  const s = await startServer({ models: [{ name: 'model', dir: modelDir }, { name: 'other', dir: other }], webDir, port: 0 });
  try {
    const index = await (await fetch(new URL('models/index.json', s.url))).json() as { models: ModelIndexEntry[] };
    assert.deepEqual(index.models, [
      { name: 'model', title: null, arch: 'pixelcnn', levels: 2, dataset: null, test_nats_per_image: null, test_bits_per_dim: 0.5, card: false },
      { name: 'other', title: 'Other model', arch: 'pixelcnn', levels: 2, dataset: null, test_nats_per_image: null, test_bits_per_dim: 0.5, card: true },
    ]);
    const card = await fetch(new URL('models/other/README.md', s.url));
    assert.equal(card.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(await card.text(), '# Other model\n\ncard\n');
    assert.equal((await fetch(new URL('models/model/README.md', s.url))).status, 404, 'no card, no route');
    assert.deepEqual(Buffer.from(await (await fetch(new URL('models/other/model.safetensors', s.url))).arrayBuffer()), readFileSync(join(other, 'model.safetensors')));
  } finally {
    await s.close();
  }
  await assert.rejects(startServer({ models: [{ name: 'a', dir: modelDir }, { name: 'a', dir: other }], webDir, port: 0 }),
    /^Error: two models named 'a' \(model directory '.*other model'\); serve directories with different names$/);
  await assert.rejects(startServer({ models: [{ name: 'other model', dir: other }], webDir, port: 0 }), /its name 'other model' cannot be a URL segment/);
  await assert.rejects(startServer({ models: [], webDir, port: 0 }), /^Error: no model to serve$/);
});

test('the page is cross-origin isolated (COOP + COEP, for shared memory) and may compile wasm', async () => {
  for (const path of ['/', '/assets/app.js', '/assets/k.wasm', '/models/model/model.safetensors', '/models/index.json', '/missing']) {
    const r = await get(path);
    assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin', path);
    assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp', path);
    assert.match(r.headers['content-security-policy'], /script-src 'self' 'wasm-unsafe-eval';/, path);
  }
  const wasm = await get('/assets/k.wasm');
  assert.equal(wasm.headers['content-type'], 'application/wasm');
  assert.deepEqual(wasm.body, readFileSync(join(webDir, 'assets', 'k.wasm')));
});

test('path traversal, encoded separators, backslashes and links out of the app are refused', async () => {
  const attempts = [
    '/../package.json', '/%2e%2e/package.json', '/%2E%2E/%2E%2E/etc/passwd', '/..%2fpackage.json', '/..%2Fsecret.txt',
    '/assets/..%5c..%5cpackage.json', '/assets/..\\..\\secret.txt', '/assets/%2e%2e/%2e%2e/secret.txt',
    '/assets/../index.html', '/assets/./app.js', '/model/../secret.txt', '/model/..%2f..%2fsecret.txt',
    '/model/%2e%2e/secret.txt', '//etc/passwd', '/%2fetc%2fpasswd', '/assets/evil.js', '/assets/evil2.js',
    '/assets/outdir/x.js', '/model/notes.txt', '/model/optimizer.safetensors', '/model/', '/model', '/assets/',
    '/assets', '/assets/sub', '/assets/sub/', '/secret.txt', '/assets/app.js%00.png', '/%00', '/..', '/.',
    '/assets/%252e%252e/secret.txt', '/models/model/../secret.txt', '/models/model/%2e%2e/%2e%2e/secret.txt',
    '/models/model/notes.txt', '/models/model/optimizer.safetensors', '/models/model/', '/models/', '/models',
    '/models/model/README.md', '/models/..%2fsecret.txt',
  ];
  for (const path of attempts) {
    const r = await get(path);
    assert.ok(r.status === 400 || r.status === 404, `${path}: status ${r.status}`);
    assert.ok(!r.body.toString().includes(SECRET) && !r.body.toString().includes('"name": "pixelcnn"'), `${path}: leaked a file`);
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8', path);
  }
  assert.equal((await get('/%E0%A4%A')).status, 400, 'malformed percent-encoding');
  assert.equal((await get('http://127.0.0.1/../package.json')).status, 400, 'absolute-form target');
  assert.ok(!srv.routes.some((r) => r.includes('evil') || r.includes('outdir')), 'links out of the app are not routes');
});

test('a file replaced by a link to the outside after start-up is refused', async () => {
  const file = join(webDir, 'assets', 'swap.js');
  assert.equal((await get('/assets/swap.js')).status, 200);
  unlinkSync(file);
  symlinkSync(join(root, 'secret.txt'), file);
  const r = await get('/assets/swap.js');
  assert.equal(r.status, 404);
  assert.ok(!r.body.toString().includes(SECRET));
});

test('only GET and HEAD; request bodies, long URLs and foreign Host headers are refused', async () => {
  for (const m of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    const r = await get('/', m);
    assert.equal(r.status, 405, m);
    assert.equal(r.headers.allow, 'GET, HEAD');
  }
  // A POST with a large body: answered at once, connection closed, body not read.
  const big = Buffer.alloc(1 << 20, 0x61);
  const post = await raw(`POST /models/model/config.json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${big.length}\r\n\r\n`, big);
  assert.equal(post.status, 405);
  assert.equal(post.headers.connection, 'close');
  const withBody = await raw(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\n`, 'hello');
  assert.equal(withBody.status, 413);
  const chunked = await raw(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n`, '5\r\nhello\r\n0\r\n\r\n');
  assert.equal(chunked.status, 413);
  assert.equal((await get(`/assets/${'a'.repeat(3000)}.js`)).status, 414);
  const huge = await get(`/${'a'.repeat(100_000)}`);
  assert.ok(huge.status === 414 || huge.status === 431, `huge URL: ${huge.status}`);
  assert.equal((await raw(`GET / HTTP/1.1\r\nHost: evil.example:${srv.port}\r\nConnection: close\r\n\r\n`)).status, 403, 'DNS rebinding guard');
  assert.equal((await raw(`GET / HTTP/1.1\r\nHost: localhost:${srv.port}\r\nConnection: close\r\n\r\n`)).status, 200);
  assert.equal((await get('/nope')).status, 404);
  assert.equal((await get('/favicon.ico')).status, 404);
  // Still serving after all that.
  assert.equal((await get('/')).status, 200);
});

/** Runs `pixelcnn serve ARGS --port 0`, hands `use` the URL it prints, and stops it afterwards. */
async function withServe<T>(args: string[], use: (url: string) => Promise<T>): Promise<T> {
  const child = spawn(process.execPath, [cli, 'serve', ...args, '--port', '0']);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => { out += d; const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//); if (m) resolve(m[0]); });
      child.on('close', (c) => reject(new Error(`serve exited (${c}): ${out}`)));
      setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 10_000).unref();
    });
    return await use(url);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('close', r));
  }
}

test('pixelcnn serve: --port 0 prints the URL and serves; a missing model is an error', async (t) => {
  const missing = spawn(process.execPath, [cli, 'serve', '--model', join(root, 'nope'), '--port', '0']);
  let err = '';
  missing.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => missing.on('close', r));
  assert.notEqual(code, 0);
  assert.match(err, /does not exist/);

  if (!existsSync(join(repoRoot, 'dist', 'web', 'index.html'))) {
    const why = 'dist/web is not built (npm run build)';
    if (process.env.PIXELCNN_REQUIRE_BROWSER === '1') assert.fail(why);
    return t.skip(why);
  }
  await withServe(['--model', modelDir], async (url) => {
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /PixelCNN/);
    const w = await fetch(new URL('models/model/model.safetensors', url));
    assert.deepEqual(Buffer.from(await w.arrayBuffer()), readFileSync(join(modelDir, 'model.safetensors')));
    assert.equal((await fetch(new URL('assets/main.js', url))).status, 200);
  });
});

test('pixelcnn serve without --model offers every shipped model; --model repeats', async (t) => {
  if (!existsSync(join(repoRoot, 'dist', 'web', 'index.html'))) {
    const why = 'dist/web is not built (npm run build)';
    if (process.env.PIXELCNN_REQUIRE_BROWSER === '1') assert.fail(why);
    return t.skip(why);
  }
  const shipped = readdirSync(join(repoRoot, 'models')).sort().filter((n) => existsSync(join(repoRoot, 'models', n, 'config.json')));
  const names = (args: string[]) => withServe(args, async (url) => {
    const index = await (await fetch(new URL('models/index.json', url))).json() as { models: { name: string }[] };
    return index.models.map((m) => m.name);
  });
  assert.deepEqual(await names([]), shipped);
  const spaced = join(root, 'my model');
  mkdirSync(spaced, { recursive: true });
  copyFileSync(join(modelDir, 'config.json'), join(spaced, 'config.json'));
  copyFileSync(join(modelDir, 'model.safetensors'), join(spaced, 'model.safetensors'));
  assert.deepEqual(await names(['--model', spaced, '--model', modelDir]), ['my-model', 'model']);
  const r = spawnSync(process.execPath, [cli, 'serve', '--model', modelDir, '--model', modelDir, '--port', '0'], { encoding: 'utf8', timeout: 60_000 });
  const file = spawnSync(process.execPath, [cli, 'serve', '--model', join(modelDir, 'config.json'), '--port', '0'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(file.status, 1);
  assert.equal(file.stderr, `pixelcnn: error: --model ${join(modelDir, 'config.json')}: not a directory (a checkpoint is a directory holding config.json and model.safetensors)\n`);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `pixelcnn: error: --model ${modelDir}: another --model directory has the same name 'model' (the page tells models apart by folder name)\n`);
});

test('a FIFO in place of a model file is refused (403) without wedging the server, which still closes', async (t) => {
  const dir = join(root, 'fifo-model');
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), readFileSync(join(modelDir, 'config.json')));
  if (spawnSync('mkfifo', [join(dir, 'model.safetensors')]).status !== 0) return t.skip('mkfifo unavailable');
  const s = await startServer({ models: [{ name: 'fifo-model', dir }], webDir, port: 0 });
  try {
    // More requests than libuv has file threads: a blocking open of the FIFO would hold them all.
    for (let i = 0; i < 6; i++) {
      const r = await fetch(new URL('models/fifo-model/model.safetensors', s.url), { signal: AbortSignal.timeout(5000) });
      assert.equal(r.status, 403);
      assert.equal(await r.text(), '403 Forbidden (not a regular file)\n');
    }
    assert.equal((await fetch(new URL('models/fifo-model/config.json', s.url), { signal: AbortSignal.timeout(5000) })).status, 200);
  } finally {
    await s.close();
  }
});

test('pixelcnn serve: a port in use is one line naming --port', async (t) => {
  if (!existsSync(join(repoRoot, 'dist', 'web', 'index.html'))) {
    const why = 'dist/web is not built (npm run build)';
    if (process.env.PIXELCNN_REQUIRE_BROWSER === '1') assert.fail(why);
    return t.skip(why);
  }
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'pixelcnn.js'), 'serve', '--model', modelDir, '--port', String(srv.port)],
    { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `pixelcnn: error: --port ${srv.port}: port ${srv.port} on 127.0.0.1 is already in use; choose another with --port (0 picks a free one)\n`);
});
