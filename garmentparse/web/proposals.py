"""A product's values proposed from all its photos: one garment per photo (the product's part),
each head's probabilities averaged over those garments."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from garmentparse.store import GarmentDetail


@dataclass(frozen=True)
class HeadProposal:
    head: str
    value: str | None
    confidence: float  # mean probability of ``value`` over the photos
    top_k: list[tuple[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Proposal:
    garments: list[GarmentDetail]  # the product's garment in each photo that has one
    heads: list[HeadProposal]


def propose(per_photo: list[list[GarmentDetail]], heads: list[str], k: int = 5) -> Proposal:
    """Pick the part with the highest summed detector score, the best garment of that part in each
    photo, and per head the label with the highest mean probability (top-k listed)."""
    votes: dict[str, float] = defaultdict(float)
    for garments in per_photo:
        for g in garments:
            votes[g.garment.part] += g.garment.score
    if not votes:
        return Proposal([], [HeadProposal(h, None, 0.0) for h in ["part", *heads]])
    part = max(votes, key=lambda p: (votes[p], p))
    chosen = [max((g for g in garments if g.garment.part == part), key=lambda g: g.garment.score)
              for garments in per_photo if any(g.garment.part == part for g in garments)]
    total = sum(votes.values())
    part_top = sorted(((p, v / total) for p, v in votes.items()), key=lambda t: -t[1])[:k]
    out = [HeadProposal("part", part, sum(g.garment.score for g in chosen) / len(chosen), part_top)]
    for head in heads:
        sums: dict[str, float] = defaultdict(float)
        seen = 0
        for g in chosen:
            hv = g.heads.get(head)
            if hv is None:
                continue
            seen += 1
            pairs = hv.top_k or ([(hv.predicted, hv.probability or 0.0)] if hv.predicted else [])
            for lab, p in pairs:
                sums[lab] += p
        if not seen or not sums:
            out.append(HeadProposal(head, None, 0.0))
            continue
        ranked = sorted(((lab, s / seen) for lab, s in sums.items()), key=lambda t: (-t[1], t[0]))
        out.append(HeadProposal(head, ranked[0][0], ranked[0][1], ranked[:k]))
    return Proposal(chosen, out)
