/**
 * Incremental (cached) evaluation of a masked convolutional network, for fast generation
 * (Ramachandran et al. 2017, "Fast Generation for Convolutional Autoregressive Models").
 *
 * With stride-1 'same' masked convolutions the activation of any layer at pixel i depends only on
 * the input at pixels ≤ i in raster order (and, at pixel i itself, only on earlier colours). So
 * when pixels are generated in raster order, each layer needs computing at the current pixel only,
 * reading its inputs at earlier pixels from caches filled when those pixels were generated. The
 * cost of an image becomes about one forward pass per colour instead of one per pixel and colour.
 *
 * Contract between the sampler (src/sample/cached.ts) and an implementation:
 *
 *  1. The sampler creates the network for a batch size and image size, writes the known part of
 *     the image into `input` (unit scale: level / (L − 1); everything not yet generated is 0) and
 *     calls `prefill(classes, pixels)` once: a batched full forward pass that fills the caches of
 *     every layer for pixels [0, pixels) (the observed prefix of an image completion; pixels = 0
 *     for plain sampling, which may do nothing but remember the classes).
 *  2. Then for every position pos = pixel·C + colour from the first unobserved one to C·H·W − 1,
 *     in this order, the sampler calls `logitsAt(pixel, colour, out)` and afterwards writes the
 *     sampled values of all images at (pixel, colour) into `input`.
 *     `logitsAt` computes every layer at `pixel` for all images, from `input` and the caches of
 *     earlier pixels, stores what later pixels will read into the caches, and writes the logits of
 *     `colour` at `pixel` to out[b·outputsPerColour + j] (j < outputsPerColour: the colour's group
 *     of output slots, outputFilter(j, colour, C) in src/models/model.ts).
 *     It is called once per colour of a pixel, colour 0 first: each call recomputes the pixel with
 *     the colours sampled so far (later colours are still 0, which the masks make irrelevant to
 *     this colour's logits). After the call for the last colour the caches of `pixel` must be
 *     final: with PixelCNN masks no activation at a pixel depends on that pixel's last colour
 *     (input colour c feeds only filters of colour > c at the centre tap), so recomputing at the
 *     last colour yields the values a full forward pass of the finished image gives.
 *     An implementation must not allocate per call (preallocate per batch).
 *     It may also compute on its own schedule as long as the outputs are these: PixelCNN++
 *     (pixelcnn-plus-plus.ts) has layers that read ahead of the pixel in raster order and stride-2
 *     layers, so it computes each position of each layer once, after the last pixel its receptive
 *     field reads, and since nothing at a pixel reads that pixel, every colour's call reads the
 *     features computed at the first.
 *
 * New architectures plug in by implementing this interface in src/sample/incremental/<arch>.ts
 * (packing weights with pack.ts; the prefill runs the model's own forward with an observer,
 * ForwardObserver in src/models/model.ts, and copies the activations it caches) and adding a case
 * to createIncrementalNetwork (create.ts). This file holds the interface only.
 */
import type { KernelAddon } from '../../backend/addon.js';

export interface IncrementalNetwork {
  readonly batch: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** Output slots per colour and pixel (outputsPerColour): L for softmax, 1 for sigmoid, the mixture's group. */
  readonly outputsPerColour: number;
  /** (batch, C, H, W) network input in unit scale, owned by the network, written by the sampler. */
  readonly input: Float32Array;
  /**
   * One batched full forward pass over `input` filling the caches for pixels [0, pixels);
   * classes (batch) for class-conditional models, else null. Called exactly once, before any
   * logitsAt; pixels = 0 means no observed prefix.
   */
  prefill(classes: Int32Array | null, pixels: number): void;
  /** Computes `pixel` (for the colours sampled so far) and writes colour's outputs: out (batch, outputsPerColour). */
  logitsAt(pixel: number, colour: number, out: Float32Array): void;
  /**
   * Optional native fast path: a function running positions [start, end) entirely in the addon
   * (layers, sampling with the ported Rng, writing `labels` (batch, C, H, W) and `input`), or null
   * when this addon cannot. Called after prefill, instead of logitsAt; `rngState` (4 words of
   * xoshiro128**, Rng.state()) is read and advanced in place so consecutive calls continue the
   * stream; `logitsOut` ((end − start), batch, outputsPerColour) receives the logits used, if given.
   */
  nativeGenerator?(addon: Pick<KernelAddon, 'sampleCachedPixelCnn'>): NativeGenerate | null;
}

export type NativeGenerate = (labels: Uint8Array, start: number, end: number, temperature: number,
                              rngState: Uint32Array, logitsOut: Float32Array | null) => void;
