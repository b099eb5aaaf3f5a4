/** What /models/index.json lists (src/serve/server.ts writes it, web/main.ts's model picker reads it); no node: imports, so the page can share it. */

/** An entry of /models/index.json: what the picker shows before a model is loaded. */
export interface ModelIndexEntry {
  name: string;
  /** The model card's title (first line of README.md without '#'), or null. */
  title: string | null;
  arch: string | null;
  /** Levels per colour value (binarised models are compared in nats/image, the rest in bits/dim). */
  levels: number | null;
  dataset: string | null;
  test_nats_per_image: number | null;
  test_bits_per_dim: number | null;
  /** Whether README.md (the model card) is served. */
  card: boolean;
}
