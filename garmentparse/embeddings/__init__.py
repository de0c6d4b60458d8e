"""Garment embeddings: vectors, a vector index, similar-garment search, a 2-D map, clusters.

- :mod:`.encoders` - where vectors come from: a trained classifier's backbone, ImageNet Lite0
  (offline), or an embedder (metric-learning projection, :mod:`.metric`).
- :mod:`.sources` - :func:`embed`: a crop manifest or a ``tag`` output -> an embedding folder.
- :mod:`.folder` - the embedding folder (vectors, items, index, manifest naming the model).
- :mod:`.index` - faiss: exact search for small sets, IVF / HNSW tuned to a recall past them.
- :mod:`.search` - :class:`SimilarityIndex`: neighbours of a garment or of a photo's garments.
- :mod:`.evaluate` - precision@k and mAP@10 of same-label retrieval, with the random baseline.
- :mod:`.projection` - :func:`make_map`: PCA / t-SNE picture of a collection.
- :mod:`.clusters` - :func:`cluster_folder` / :func:`assign_folder`: k-means and contact sheets.

Names are imported on first use (faiss and torch only when needed).
"""

from __future__ import annotations

from garmentparse.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "ClusterSummary": "garmentparse.embeddings.clusters",
    "assign_folder": "garmentparse.embeddings.clusters",
    "cluster_folder": "garmentparse.embeddings.clusters",
    "Encoder": "garmentparse.embeddings.encoders",
    "ModelIdentity": "garmentparse.embeddings.encoders",
    "load_encoder": "garmentparse.embeddings.encoders",
    "RetrievalResult": "garmentparse.embeddings.evaluate",
    "evaluate_retrieval": "garmentparse.embeddings.evaluate",
    "EmbeddingFolder": "garmentparse.embeddings.folder",
    "Item": "garmentparse.embeddings.folder",
    "ModelMismatchError": "garmentparse.embeddings.folder",
    "IndexSpec": "garmentparse.embeddings.index",
    "build_index": "garmentparse.embeddings.index",
    "EmbedderResult": "garmentparse.embeddings.metric",
    "train_embedder": "garmentparse.embeddings.metric",
    "MapPoints": "garmentparse.embeddings.projection",
    "MapSummary": "garmentparse.embeddings.projection",
    "map_points": "garmentparse.embeddings.projection",
    "make_map": "garmentparse.embeddings.projection",
    "Neighbour": "garmentparse.embeddings.search",
    "QueryResult": "garmentparse.embeddings.search",
    "SimilarityIndex": "garmentparse.embeddings.search",
    "EmbedSummary": "garmentparse.embeddings.sources",
    "embed": "garmentparse.embeddings.sources",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
