/**
 * The served models' URLs and what /models/index.json lists: src/serve/server.ts serves them, the
 * page's model picker (web/main.ts) fetches them. No node: imports, so the page can share it.
 */

export const MODEL_INDEX_ROUTE = '/models/index.json';

/** URL paths of a served model's files (name: a URL-safe folder name). */
export const modelRoutes = (name: string) => ({
  config: `/models/${name}/config.json`, weights: `/models/${name}/model.safetensors`,
  card: `/models/${name}/README.md`, samples: `/models/${name}/samples.png`,
}) as const;

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
