import { PNG } from 'pngjs';

/** Level labels (N, C, H, W) → 8-bit intensities: round(k · 255 / (L − 1)). */
export function levelsToPixels(labels: Uint8Array, levels: number): Uint8Array {
  const table = Uint8Array.from({ length: levels }, (_, k) => Math.round((k * 255) / (levels - 1)));
  return labels.map((v) => table[v]);
}

export interface GridOptions {
  /** Images per row (default ceil(sqrt(N))). */
  cols?: number;
  /** Pixels between images. */
  pad?: number;
  /** Integer upscaling factor. */
  scale?: number;
  /** Background colour (0..255 gray). */
  background?: number;
}

/**
 * Tiles images (N, C, H, W) of 8-bit intensities into one PNG (RGBA buffer of pngjs).
 * Gray images are drawn as gray, C = 3 as RGB.
 */
export function encodeGrid(pixels: Uint8Array, n: number, channels: number, height: number, width: number,
                           opts: GridOptions = {}): Buffer {
  const cols = opts.cols ?? Math.ceil(Math.sqrt(n)), rows = Math.ceil(n / cols);
  const pad = opts.pad ?? 2, s = opts.scale ?? 2, bg = opts.background ?? 128;
  const cellW = width * s + pad, cellH = height * s + pad;
  const png = new PNG({ width: cols * cellW + pad, height: rows * cellH + pad });
  png.data.fill(bg);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  const HW = height * width;
  for (let k = 0; k < n; k++) {
    const ox = pad + (k % cols) * cellW, oy = pad + Math.floor(k / cols) * cellH;
    for (let y = 0; y < height * s; y++) for (let x = 0; x < width * s; x++) {
      const p = Math.floor(y / s) * width + Math.floor(x / s);
      const o = ((oy + y) * png.width + ox + x) * 4;
      for (let c = 0; c < 3; c++) png.data[o + c] = pixels[(k * channels + (channels === 3 ? c : 0)) * HW + p];
    }
  }
  return PNG.sync.write(png);
}
