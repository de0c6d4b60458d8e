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

__getattr__ = lazy_exports(__name__, {
    "garmentparse.embeddings.clusters": ("ClusterSummary", "assign_folder", "cluster_folder"),
    "garmentparse.embeddings.encoders": ("Encoder", "ModelIdentity", "load_encoder"),
    "garmentparse.embeddings.evaluate": ("RetrievalResult", "evaluate_retrieval"),
    "garmentparse.embeddings.folder": ("EmbeddingFolder", "Item", "ModelMismatchError"),
    "garmentparse.embeddings.index": ("IndexSpec", "build_index"),
    "garmentparse.embeddings.metric": ("EmbedderResult", "train_embedder"),
    "garmentparse.embeddings.projection": ("MapSummary", "make_map"),
    "garmentparse.embeddings.search": ("Neighbour", "QueryResult", "SimilarityIndex"),
    "garmentparse.embeddings.sources": ("EmbedSummary", "embed"),
})

__all__ = [
    "ClusterSummary", "EmbedSummary", "EmbedderResult", "EmbeddingFolder", "Encoder", "IndexSpec", "Item", "MapSummary",
    "ModelIdentity", "ModelMismatchError", "Neighbour", "QueryResult", "RetrievalResult", "SimilarityIndex",
    "assign_folder", "build_index", "cluster_folder", "embed", "evaluate_retrieval", "load_encoder", "make_map",
    "train_embedder",
]
