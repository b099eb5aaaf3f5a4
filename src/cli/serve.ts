import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { intArg } from './options.js';
import { UsageError } from './args.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { modelFromCheckpoint } from '../train/model-io.js';
import { defaultWebDir, startServer } from '../serve/server.js';

interface ServeFlags {
  model?: string;
  port: number;
  host: string;
}

/** The small pretrained model shipped with the package (models/mnist-tiny). */
export function shippedModelDir(): string {
  return fileURLToPath(new URL('../../../models/mnist-tiny', import.meta.url));
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve a web page that samples from and completes images with a model, in the browser')
    .option('--model <dir>', 'checkpoint directory (default: the shipped models/mnist-tiny)')
    .option('--port <n>', 'port (0 = any free port)', intArg(0, 65535), 8080)
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .action((f: ServeFlags) => runServe(f));
}

async function runServe(f: ServeFlags): Promise<void> {
  const modelDir = f.model ?? shippedModelDir();
  if (!existsSync(modelDir)) {
    throw new UsageError(f.model === undefined
      ? `no --model given and the shipped model '${modelDir}' is missing`
      : `model directory '${modelDir}' does not exist`);
  }
  const webDir = defaultWebDir();
  if (!existsSync(join(webDir, 'index.html'))) {
    throw new Error(`the web app is not built (${webDir} is missing); run \`npm run build\``);
  }
  // The page validates the checkpoint itself and shows what is wrong; say it here too.
  try {
    modelFromCheckpoint(loadCheckpoint(modelDir));
  } catch (e) {
    console.warn(`pixelcnn serve: warning: ${(e as Error).message} (the page will show this error)`);
  }
  let s;
  try {
    s = await startServer({ modelDir, webDir, host: f.host, port: f.port });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError(`--port ${f.port}: port ${f.port} on ${f.host} is already in use; choose another with --port (0 picks a free one)`);
    if (code === 'EACCES') throw new UsageError(`--port ${f.port}: not allowed to listen on port ${f.port} on ${f.host} (ports below 1024 need privileges); choose another with --port`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new UsageError(`--host ${f.host}: not an address of this machine`);
    throw e;
  }
  console.log(`serving ${modelDir} at ${s.url}  (Ctrl-C to stop)`);
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
