#!/usr/bin/env node
import('../dist/src/cli/main.js').then((m) => m.main(process.argv)).catch((e) => {
  console.error(`pixelcnn: ${e && e.message ? e.message : e}`);
  process.exit(1);
});
