import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { trainCommand } from './train.js';
import { evalCommand } from './eval.js';
import { sampleCommand } from './sample.js';
import { benchCommand } from './bench.js';
import { completeCommand } from './complete.js';
import { exportCommand } from './export.js';

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The `pixelcnn` command line. Errors print one line naming the problem and exit non-zero. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('pixelcnn')
    .description('PixelCNN-family autoregressive image models: train, evaluate likelihood, sample, complete, export, benchmark, serve')
    .version(version())
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  for (const cmd of [trainCommand(), evalCommand(), sampleCommand(), completeCommand(), exportCommand(), benchCommand()]) {
    cmd.exitOverride().showHelpAfterError('(add --help for usage)');
    program.addCommand(cmd);
  }
  program.addCommand((await import('./serve.js')).serveCommand().exitOverride().showHelpAfterError('(add --help for usage)'));
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has printed the message (or the help / version) already.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    const msg = e instanceof Error ? e.message : String(e);
    console.error(`pixelcnn: error: ${msg}`);
    if (process.env.PIXELCNN_DEBUG && e instanceof Error) console.error(e.stack);
    process.exitCode = 1;
  }
}
