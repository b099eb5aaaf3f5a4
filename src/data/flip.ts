/**
 * Horizontal flips, the training-time augmentation of `--flip`: a mirrored image is as likely as
 * the original for most pictures (emoji, objects, clothes), so it doubles a small data set.
 */

/** Mirrors the image of C planes of H×W values at `offset` left to right, in place. */
export function mirrorImage(pixels: Uint8Array, offset: number, C: number, H: number, W: number): void {
  for (let row = 0; row < C * H; row++) {
    const start = offset + row * W;
    for (let i = start, j = start + W - 1; i < j; i++, j--) {
      const t = pixels[i];
      pixels[i] = pixels[j];
      pixels[j] = t;
    }
  }
}
