"""garmentparse: segmentation-first garment parsing toolkit.

    import garmentparse as gp
    seg = gp.load_segmenter("runs/det/model.pt")
    gp.tag("photos/", "runs/det/model.pt", "out.jsonl", classifier="runs/cls/model.pt")
    gp.embed("crops/manifest.csv", "runs/cls/model.pt", "emb/")
    gp.SimilarityIndex.open("emb/").search("0001.jpg#2", k=10, same=("part", "category"))

Names are imported on first use (PEP 562), so ``import garmentparse`` stays fast (no torch).
"""

from __future__ import annotations

from garmentparse.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "convert_kfashion": "garmentparse.converters", "convert_ccp": "garmentparse.converters",
    "convert_deepfashion2": "garmentparse.converters", "convert_fashionpedia": "garmentparse.converters",
    "convert_modanet": "garmentparse.converters",
    "load_detector_config": "garmentparse.parsing.config", "load_classifier_config": "garmentparse.classifiers.config",
    "load_segmenter": "garmentparse.parsing.api", "train_detector": "garmentparse.parsing.api",
    "evaluate_detector": "garmentparse.parsing.evaluate",
    "load_classifier": "garmentparse.classifiers.predict",
    "train_classifier": "garmentparse.classifiers.train",
    "evaluate_classifier": "garmentparse.classifiers.evaluate",
    "Tagger": "garmentparse.tagging.tagger",
    "tag": "garmentparse.tagging.folder", "tag_folder": "garmentparse.tagging.folder",
    "tag_folder_ray": "garmentparse.tagging.ray_engine", "RayOptions": "garmentparse.tagging.ray_engine",
    "CheckpointLoader": "garmentparse.tagging.ray_engine",
    "Detections": "garmentparse.structures", "Garment": "garmentparse.structures",
    "TagResult": "garmentparse.structures", "AttributePrediction": "garmentparse.structures",
    "Segmenter": "garmentparse.structures", "AttributeClassifier": "garmentparse.structures",
    "embed": "garmentparse.embeddings.sources", "SimilarityIndex": "garmentparse.embeddings.search",
    "EmbeddingFolder": "garmentparse.embeddings.folder", "load_encoder": "garmentparse.embeddings.encoders",
    "make_map": "garmentparse.embeddings.projection", "cluster_folder": "garmentparse.embeddings.clusters",
    "assign_folder": "garmentparse.embeddings.clusters", "evaluate_retrieval": "garmentparse.embeddings.evaluate",
    "train_embedder": "garmentparse.embeddings.metric",
    "compare_outputs": "garmentparse.comparison",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
