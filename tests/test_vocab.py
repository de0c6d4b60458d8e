"""The vocabulary: every value of the real labels known, Korean <-> English ids."""

from __future__ import annotations

import json

from garmentparse import vocab


def test_vocab_covers_real_labels(kfashion_real_dir, ccp_dir):
    for path in [*kfashion_real_dir.glob("*.json"), *ccp_dir.glob("labels/*.json")]:
        labels = json.loads(path.read_text(encoding="utf-8"))["데이터셋 정보"]["데이터셋 상세설명"]["라벨링"]
        for part_ko, entries in labels.items():
            assert part_ko == "스타일" or part_ko in vocab.PART_BY_KOREAN
            for entry in entries:
                for key, value in entry.items():
                    attr = vocab.ATTRIBUTE_BY_KOREAN[key]
                    for v in value if isinstance(value, list) else [value]:
                        assert vocab.lookup(attr.name, v) is not None, (path, key, v)


def test_vocab_lookup_and_translate():
    assert vocab.lookup("category", "청바지") == "jeans"
    assert vocab.part_of("jeans") == "bottom"
    assert vocab.lookup("neckline", "원숄더") == "one-shoulder"  # whitespace-insensitive
    assert vocab.lookup("colour", "무지개") is None
    assert vocab.translate("colour", "navy", "ko") == "네이비"
    assert vocab.translate("part", "onepiece", "ko") == "원피스"
    assert set(vocab.CATEGORY_PART.values()) == set(vocab.PARTS)
