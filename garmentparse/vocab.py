"""K-Fashion vocabulary: stable English ids with their Korean names.

Everything downstream stores labels by English id (``top``, ``blouse``, ``navy``); Korean names
come from here, for reading AIHub labels and for ``--lang ko`` output. Values met in real data
that are not listed here are *reported* by callers (see :func:`lookup`), never crashed on.
"""

from __future__ import annotations

from dataclasses import dataclass

# The four garment parts, in the order they get COCO category ids 1..4.
PARTS: dict[str, str] = {
    "outer": "아우터",
    "top": "상의",
    "bottom": "하의",
    "onepiece": "원피스",
}

# Fine categories and the part each belongs to (K-Fashion's 21 categories).
CATEGORY_PART: dict[str, str] = {
    "top": "top", "blouse": "top", "t-shirt": "top", "knitwear": "top", "shirt": "top",
    "bra-top": "top", "hoodie": "top",
    "jeans": "bottom", "pants": "bottom", "skirt": "bottom", "leggings": "bottom",
    "jogger-pants": "bottom",
    "coat": "outer", "jacket": "outer", "jumper": "outer", "padding": "outer", "vest": "outer",
    "cardigan": "outer", "zip-up": "outer",
    "dress": "onepiece", "jumpsuit": "onepiece",
}

_CATEGORY_KO = {
    "top": "탑", "blouse": "블라우스", "t-shirt": "티셔츠", "knitwear": "니트웨어", "shirt": "셔츠",
    "bra-top": "브라탑", "hoodie": "후드티", "jeans": "청바지", "pants": "팬츠", "skirt": "스커트",
    "leggings": "레깅스", "jogger-pants": "조거팬츠", "coat": "코트", "jacket": "재킷",
    "jumper": "점퍼", "padding": "패딩", "vest": "베스트", "cardigan": "가디건", "zip-up": "짚업",
    "dress": "드레스", "jumpsuit": "점프수트",
}

_COLOUR_KO = {
    "black": "블랙", "white": "화이트", "gray": "그레이", "red": "레드", "pink": "핑크",
    "orange": "오렌지", "beige": "베이지", "brown": "브라운", "yellow": "옐로우", "green": "그린",
    "khaki": "카키", "mint": "민트", "blue": "블루", "navy": "네이비", "skyblue": "스카이블루",
    "purple": "퍼플", "lavender": "라벤더", "wine": "와인", "neon": "네온", "gold": "골드",
    "silver": "실버",
}

_LENGTH_KO = {
    "crop": "크롭", "normal": "노멀", "long": "롱", "mini": "미니", "knee": "니렝스",
    "midi": "미디", "ankle": "발목", "maxi": "맥시",
}

_SLEEVE_KO = {
    "sleeveless": "민소매", "short": "반팔", "cap": "캡", "three-quarter": "7부소매", "long": "긴팔",
}

_NECKLINE_KO = {
    "round": "라운드넥", "u-neck": "유넥", "v-neck": "브이넥", "halter": "홀터넥",
    "off-shoulder": "오프숄더", "one-shoulder": "원 숄더", "square": "스퀘어넥",
    "no-collar": "노카라", "hood": "후드", "turtleneck": "터틀넥", "boat": "보트넥",
    "sweetheart": "스위트하트",
}

_COLLAR_KO = {
    "shirt": "셔츠칼라", "bow": "보우칼라", "sailor": "세일러칼라", "shawl": "숄칼라",
    "polo": "폴로칼라", "peter-pan": "피터팬칼라", "notched": "너치드칼라", "china": "차이나칼라",
    "tailored": "테일러드칼라", "band": "밴드칼라",
}

_FIT_KO = {
    "normal": "노멀", "loose": "루즈", "oversized": "오버사이즈", "skinny": "스키니",
    "wide": "와이드", "tight": "타이트", "bell-bottom": "벨보텀",
}

_PRINT_KO = {
    "check": "체크", "stripe": "스트라이프", "zigzag": "지그재그", "leopard": "호피",
    "zebra": "지브라", "dot": "도트", "camouflage": "카무플라쥬", "paisley": "페이즐리",
    "argyle": "아가일", "floral": "플로럴", "lettering": "레터링", "graphic": "그래픽",
    "skull": "해골", "tie-dye": "타이다이", "gingham": "깅엄", "gradation": "그라데이션",
    "solid": "무지", "houndstooth": "하운즈 투스",
}

_MATERIAL_KO = {
    "padding": "패딩", "fur": "퍼", "mustang": "무스탕", "suede": "스웨이드", "angora": "앙고라",
    "corduroy": "코듀로이", "sequin-glitter": "시퀸/글리터", "denim": "데님", "jersey": "저지",
    "tweed": "트위드", "velvet": "벨벳", "vinyl-pvc": "비닐/PVC", "wool-cashmere": "울/캐시미어",
    "synthetic": "합성섬유", "hair-knit": "헤어 니트", "knit": "니트", "lace": "레이스",
    "linen": "린넨", "mesh": "메시", "fleece": "플리스", "neoprene": "네오프렌", "silk": "실크",
    "spandex": "스판덱스", "jacquard": "자카드", "leather": "가죽", "cotton": "면",
    "chiffon": "시폰", "woven": "우븐",
}

_DETAIL_KO = {
    "beads": "비즈", "button": "단추", "glitter": "글리터", "cable-knit": "니트꽈배기",
    "chain": "체인", "cut-off": "컷오프", "double-breasted": "더블브레스티드",
    "drop-shoulder": "드롭숄더", "embroidery": "자수", "frill": "프릴", "fringe": "프린지",
    "puff": "퍼프", "quilting": "퀄팅", "ribbon": "리본", "roll-up": "롤업", "ruffle": "러플",
    "shirring": "셔링", "slit": "슬릿", "spangle": "스팽글", "stitch": "스티치", "stud": "스터드",
    "pompom": "폼폼", "pocket": "포켓", "pleats": "플리츠", "patchwork": "패치워크",
    "lace-up": "레이스업", "asymmetric": "비대칭", "cut-out": "컷아웃", "zipper": "지퍼",
    "buckle": "버클", "peplum": "페플럼", "belted": "벨티드", "single-breasted": "싱글브레스티드",
    "draping": "드레이핑", "x-strap": "X스트랩", "slash": "슬래시",
}

_STYLE_KO = {
    "classic": "클래식", "preppy": "프레피", "mannish": "매니시", "tomboy": "톰보이",
    "feminine": "페미닌", "romantic": "로맨틱", "sexy": "섹시", "hippie": "히피",
    "western": "웨스턴", "oriental": "오리엔탈", "modern": "모던", "sophisticated": "소피스트케이티드",
    "avantgarde": "아방가르드", "country": "컨트리", "resort": "리조트", "genderless": "젠더리스",
    "sporty": "스포티", "street": "스트리트", "hiphop": "힙합", "military": "밀리터리",
    "kitsch": "키치", "retro": "레트로", "punk": "펑크",
}


@dataclass(frozen=True)
class Attribute:
    """One labelled attribute: its English id, Korean key, values and whether it is a list."""

    name: str
    korean: str
    values_ko: dict[str, str]  # english id -> korean name
    multi_label: bool = False

    @property
    def values(self) -> list[str]:
        return list(self.values_ko)


# Every attribute the K-Fashion ``라벨링`` block carries, keyed by English id.
ATTRIBUTES: dict[str, Attribute] = {
    a.name: a
    for a in (
        Attribute("category", "카테고리", _CATEGORY_KO),
        Attribute("colour", "색상", _COLOUR_KO),
        Attribute("sub_colour", "서브색상", _COLOUR_KO),
        Attribute("length", "기장", _LENGTH_KO),
        Attribute("sleeve_length", "소매기장", _SLEEVE_KO),
        Attribute("neckline", "넥라인", _NECKLINE_KO),
        Attribute("collar", "옷깃", _COLLAR_KO),
        Attribute("fit", "핏", _FIT_KO),
        Attribute("print", "프린트", _PRINT_KO, multi_label=True),
        Attribute("material", "소재", _MATERIAL_KO, multi_label=True),
        Attribute("detail", "디테일", _DETAIL_KO, multi_label=True),
        Attribute("style", "스타일", _STYLE_KO),
        Attribute("sub_style", "서브스타일", _STYLE_KO),
    )
}

ATTRIBUTE_BY_KOREAN: dict[str, Attribute] = {a.korean: a for a in ATTRIBUTES.values()}
PART_BY_KOREAN: dict[str, str] = {ko: en for en, ko in PARTS.items()}
CATEGORIES: list[str] = list(CATEGORY_PART)
COLOURS: list[str] = list(_COLOUR_KO)


def _normalise_korean(text: str) -> str:
    return "".join(str(text).split())


_REVERSE: dict[str, dict[str, str]] = {
    a.name: {_normalise_korean(ko): en for en, ko in a.values_ko.items()} for a in ATTRIBUTES.values()
}


def lookup(attribute: str, korean_value: str) -> str | None:
    """English id of a Korean value of ``attribute``; ``None`` when the value is unknown.

    Whitespace is ignored (``원 숄더`` == ``원숄더``); an English id is accepted as-is.
    """
    table = _REVERSE[attribute]
    key = _normalise_korean(korean_value)
    if key in table:
        return table[key]
    if korean_value in ATTRIBUTES[attribute].values_ko:
        return korean_value
    return None


def part_of(category: str) -> str | None:
    """The part (``top``/``bottom``/``outer``/``onepiece``) a fine category belongs to."""
    return CATEGORY_PART.get(category)


def categories_of_part(part: str) -> list[str]:
    return [c for c, p in CATEGORY_PART.items() if p == part]


def korean_name(attribute: str, value: str) -> str:
    """Korean name of an English id; ``attribute='part'`` for parts. Unknown ids pass through."""
    if attribute == "part":
        return PARTS.get(value, value)
    attr = ATTRIBUTES.get(attribute)
    return attr.values_ko.get(value, value) if attr else value


def translate(attribute: str, value: str, lang: str) -> str:
    """``value`` in ``lang`` (``en`` keeps the id, ``ko`` gives the Korean name)."""
    if lang == "en":
        return value
    if lang == "ko":
        return korean_name(attribute, value)
    raise ValueError(f"unknown language {lang!r}: use 'en' or 'ko'")
