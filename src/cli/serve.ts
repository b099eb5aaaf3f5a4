import { Command } from 'commander';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { intArg } from './options.js';
import { UsageError } from './args.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { modelFromCheckpoint } from '../train/model-io.js';
import { defaultWebDir, startServer, type ServedModel } from '../serve/server.js';

interface ServeFlags {
  model: string[];
  port: number;
  host: string;
}

/** The models shipped with the package (models/ of the package root). */
export function shippedModelsDir(): string {
  return fileURLToPath(new URL('../../../models', import.meta.url));
}

/** Every shipped model (a folder of models/ with a config.json), by name: the page's default first. */
export function shippedModels(): ServedModel[] {
  const root = shippedModelsDir();
  let names: string[] = [];
  try { names = readdirSync(root).sort(); } catch { /* none shipped */ }
  return names.filter((n) => existsSync(join(root, n, 'config.json'))).map((name) => ({ name, dir: join(root, name) }));
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve a web page that samples from and completes images with a model, in the browser')
    .option('--model <dir>', 'checkpoint directory; repeat it to offer several in the page\'s model picker (default: every model shipped in models/)',
      (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--port <n>', 'port (0 = any free port)', intArg(0, 65535), 8080)
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .action((f: ServeFlags) => runServe(f));
}

/** A folder name as a URL segment: characters other than letters, digits, '.', '_' and '-' become '-'. */
function urlName(folder: string): string {
  return folder.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'model';
}

async function runServe(f: ServeFlags): Promise<void> {
  const models = f.model.length > 0 ? f.model.map((dir) => ({ name: urlName(basename(resolve(dir))), dir })) : shippedModels();
  if (models.length === 0) throw new UsageError(`no --model given and no model is shipped in '${shippedModelsDir()}'`);
  for (const m of models) {
    if (!existsSync(m.dir)) throw new UsageError(`--model ${m.dir}: model directory does not exist`);
    if (!statSync(m.dir).isDirectory()) throw new UsageError(`--model ${m.dir}: not a directory (a checkpoint is a directory holding config.json and model.safetensors)`);
  }
  const names = new Set<string>();
  for (const m of models) {
    if (names.has(m.name)) throw new UsageError(`--model ${m.dir}: another --model directory has the same name '${m.name}' (the page tells models apart by folder name)`);
    names.add(m.name);
  }
  const webDir = defaultWebDir();
  if (!existsSync(join(webDir, 'index.html'))) {
    throw new Error(`the web app is not built (${webDir} is missing); run \`npm run build\``);
  }
  // The page validates each checkpoint itself and shows what is wrong; say it here too.
  for (const m of models) {
    try {
      modelFromCheckpoint(loadCheckpoint(m.dir));
    } catch (e) {
      console.warn(`pixelcnn serve: warning: ${(e as Error).message} (the page will show this error for model '${m.name}')`);
    }
  }
  let s;
  try {
    s = await startServer({ models, webDir, host: f.host, port: f.port });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError(`--port ${f.port}: port ${f.port} on ${f.host} is already in use; choose another with --port (0 picks a free one)`);
    if (code === 'EACCES') throw new UsageError(`--port ${f.port}: not allowed to listen on port ${f.port} on ${f.host} (ports below 1024 need privileges); choose another with --port`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new UsageError(`--host ${f.host}: not an address of this machine`);
    throw e;
  }
  console.log(`serving ${models.map((m) => m.dir).join(', ')} at ${s.url}  (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void s.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
