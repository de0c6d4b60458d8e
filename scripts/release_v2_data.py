"""Data of the v2 release models (docs/models.md): CCP street photos + CC0 product photos.

    python scripts/release_v2_data.py WORK [--ccp ../shared/data/kfashion-ccp]
        [--products WORK/products.json --product-images ../shared/data/clothing-dataset/images]

Writes under WORK:
- ``ccp.json``: `convert ccp` (every pixel of each garment), with the K-Fashion labels' computed
  ``colour`` joined by (photo, category) and ``length`` from CCP's own label (shorts -> mini;
  pants, jeans, leggings -> ankle).
- ``ccp/{train,dev,test}.json``: the v1 splits by photo (docs/models/photos-*.txt), so street
  figures compare with v1 on the same test photos.
- ``products/{train,dev,test}.json``: `split --group-by sender_id` of the pseudo-masked product
  photos (test 15 %, dev 10 %): no photographer in two splits.
- ``images/ccp``, ``images/products``: links to the photo folders; ``{train,dev}.json``: both
  sources in one COCO with file names under those links (the detector's and crop's input).
- ``photos/{products,ccp}-{dev,test}/``: links to just those photos (what `tag` reads to measure).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from garmentparse.converters import convert_ccp, convert_kfashion, load_coco, save_coco, split_coco
from garmentparse.converters.coco import annotations_by_image, subset

REPO = Path(__file__).resolve().parents[1]
LENGTH_OF_CCP_LABEL = {"shorts": "mini", "pants": "ankle", "jeans": "ankle", "leggings": "ankle"}


def ccp_with_labels(ccp_root: Path) -> dict:
    """convert ccp + colour (joined from the K-Fashion-schema labels) + length (from ccp_label)."""
    coco, _ = convert_ccp(ccp_root)
    kf, _ = convert_kfashion(ccp_root / "labels", ccp_root / "images")
    by_name = {im["file_name"]: im["id"] for im in kf["images"]}
    kf_anns = annotations_by_image(kf)
    joined: Counter = Counter()
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    for image_id, anns in annotations_by_image(coco).items():
        labelled = kf_anns.get(by_name.get(names[image_id], -1), [])
        colours: dict[str, list[str]] = {}
        for a in labelled:
            attrs = a.get("attributes") or {}
            if attrs.get("category") and attrs.get("colour"):
                colours.setdefault(attrs["category"], []).append(attrs["colour"])
        cats = Counter(a["attributes"]["category"] for a in anns)
        for a in anns:
            cat = a["attributes"]["category"]
            if cats[cat] == 1 and len(colours.get(cat, [])) == 1:
                a["attributes"]["colour"] = colours[cat][0]
                joined["colour"] += 1
            length = LENGTH_OF_CCP_LABEL.get(a.get("ccp_label", ""))
            if length:
                a["attributes"]["length"] = length
                joined["length"] += 1
    print(f"ccp: {len(coco['images'])} photos, {len(coco['annotations'])} garments, labels joined {dict(joined)}",
          file=sys.stderr)
    return coco


def by_photo_list(coco: dict, names: set[str]) -> dict:
    return subset(coco, [im["id"] for im in coco["images"] if im["file_name"] in names])


def prefixed(coco: dict, prefix: str, id_offset: int, ann_offset: int) -> tuple[list, list]:
    images = [{**im, "id": im["id"] + id_offset, "file_name": f"{prefix}/{im['file_name']}", "source": prefix}
              for im in coco["images"]]
    anns = [{**a, "id": a["id"] + ann_offset, "image_id": a["image_id"] + id_offset} for a in coco["annotations"]]
    return images, anns


def merged(parts: dict[str, dict]) -> dict:
    """One COCO of several sources, file names under ``<source>/``; ids renumbered apart."""
    images: list = []
    anns: list = []
    for prefix, coco in parts.items():
        offset = max((im["id"] for im in images), default=0)
        ann_offset = max((a["id"] for a in anns), default=0)
        im, an = prefixed(coco, prefix, offset, ann_offset)
        images += im
        anns += an
    first = next(iter(parts.values()))
    return {"info": {"description": "garmentparse v2 release data", "sources": list(parts), "classes": "part"},
            "licenses": [], "categories": first["categories"], "images": images, "annotations": anns}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path)
    ap.add_argument("--ccp", type=Path, default=REPO.parent / "shared/data/kfashion-ccp")
    ap.add_argument("--products", type=Path, help="pseudo-masked product COCO (default WORK/products.json)")
    ap.add_argument("--product-images", type=Path, default=REPO.parent / "shared/data/clothing-dataset/images")
    args = ap.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    ccp = ccp_with_labels(args.ccp)
    save_coco(ccp, work / "ccp.json")
    lists = {s: set((REPO / f"docs/models/photos-{f}.txt").read_text().split())
             for s, f in (("train", "detector-train"), ("dev", "dev"), ("test", "test"))}
    ccp_split = {s: by_photo_list(ccp, names) for s, names in lists.items()}
    products = load_coco(args.products or work / "products.json")
    prod_split = split_coco(products, work / "products", val=0.10, test=0.15, seed=0, group_by="sender_id")
    prod_split = {"train": prod_split["train"], "dev": prod_split["val"], "test": prod_split["test"]}
    for s in ("train", "dev", "test"):
        save_coco(ccp_split[s], work / "ccp" / f"{s}.json")
        save_coco(prod_split[s], work / "products" / f"{s}.json")
    (work / "products" / "val.json").unlink(missing_ok=True)
    links = work / "images"
    links.mkdir(exist_ok=True)
    for name, target in (("ccp", args.ccp / "images"), ("products", args.product_images)):
        link = links / name
        if not link.exists():
            link.symlink_to(target.resolve())
    for prefix, parts in (("products", prod_split), ("ccp", ccp_split)):
        for s in ("dev", "test"):
            folder = work / "photos" / f"{prefix}-{s}"
            folder.mkdir(parents=True, exist_ok=True)
            for im in parts[s]["images"]:
                link = folder / im["file_name"]
                if not link.exists():
                    link.symlink_to((links / prefix).resolve() / im["file_name"])
    summary = {}
    for s in ("train", "dev"):
        m = merged({"ccp": ccp_split[s], "products": prod_split[s]})
        save_coco(m, work / f"{s}.json")
        summary[s] = {"images": len(m["images"]), "garments": len(m["annotations"])}
    summary["test"] = {"ccp_photos": len(ccp_split["test"]["images"]),
                       "product_photos": len(prod_split["test"]["images"]),
                       "product_senders": len({im.get("sender_id") for im in prod_split["test"]["images"]})}
    (work / "data-summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
