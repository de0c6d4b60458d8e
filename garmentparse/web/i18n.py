"""English and Korean: the page's own words here, labels from :mod:`garmentparse.vocab`."""

from __future__ import annotations

from garmentparse import vocab

LANGS = ("en", "ko")

TEXT: dict[str, tuple[str, str]] = {  # key -> (English, Korean)
    "app": ("garmentparse review", "garmentparse 검수"),
    "gallery": ("Browse", "둘러보기"),
    "queue": ("Review queue", "검수 대기열"),
    "products": ("Products", "상품"),
    "register": ("Register a product", "상품 등록"),
    "dashboard": ("Dashboard", "대시보드"),
    "users": ("Users", "사용자"),
    "export": ("Export", "내보내기"),
    "login": ("Log in", "로그인"),
    "logout": ("Log out", "로그아웃"),
    "logout_everywhere": ("Log out everywhere", "모든 기기에서 로그아웃"),
    "sessions": ("Sessions", "세션"),
    "revoke": ("End sessions", "세션 종료"),
    "name": ("Name", "이름"),
    "password": ("Password", "비밀번호"),
    "role": ("Role", "역할"),
    "part": ("Part", "부위"),
    "head": ("Attribute", "속성"),
    "value": ("Value", "값"),
    "any": ("any", "전체"),
    "state": ("State", "상태"),
    "confidence": ("Confidence", "신뢰도"),
    "min": ("min", "최소"),
    "max": ("max", "최대"),
    "run": ("Tag run", "태깅 실행"),
    "product": ("Product", "상품"),
    "path": ("Path contains", "경로 포함"),
    "sort": ("Sort", "정렬"),
    "newest": ("newest first", "최신순"),
    "lowest": ("lowest confidence first", "신뢰도 낮은 순"),
    "filter": ("Filter", "필터"),
    "next_page": ("Next page", "다음 페이지"),
    "first_page": ("First page", "첫 페이지"),
    "no_garments": ("No garments match.", "조건에 맞는 의류가 없습니다."),
    "predicted": ("predicted", "예측"),
    "confirmed": ("confirmed", "확인"),
    "corrected": ("corrected", "수정"),
    "rejected": ("rejected", "거부"),
    "accept": ("Accept all and next", "모두 승인 후 다음"),
    "reject": ("Not a garment", "의류 아님"),
    "reject_head": ("Wrong, no value", "틀림 (값 없음)"),
    "skip": ("Skip", "건너뛰기"),
    "other_value": ("Other value", "다른 값"),
    "set": ("Set", "적용"),
    "comment": ("Comment", "메모"),
    "history": ("History", "변경 기록"),
    "no_history": ("No changes yet.", "아직 변경이 없습니다."),
    "when": ("When", "시각"),
    "who": ("Who", "누가"),
    "change": ("Change", "변경"),
    "queue_empty": ("Nothing left to review here.", "검수할 항목이 없습니다."),
    "by_head": ("Attribute", "속성"),
    "overall": ("whole garment", "의류 전체"),
    "order": ("Order", "정렬"),
    "order_confidence": ("lowest confidence first", "신뢰도 낮은 순"),
    "order_margin": ("most uncertain first (top two closest)", "불확실한 순 (상위 두 후보 차이 작은 순)"),
    "order_disagreement": ("most disagreement with another run first", "다른 실행과 많이 다른 순"),
    "other_run": ("Compared with run", "비교할 실행"),
    "need_two_runs": ("Choose the run to review and another run to compare it with.",
                      "검수할 실행과 비교할 다른 실행을 고르세요."),
    "margin": ("Margin", "차이"),
    "disagreements": ("differences", "차이 수"),
    "keys": ("Keyboard", "단축키"),
    "keys_help": (
        "↑/↓ or j/k choose an attribute · 1–9 pick that alternative · a accept all and go to the next · "
        "x the chosen attribute is wrong · e other value · r not a garment · s skip",
        "↑/↓ 또는 j/k 속성 선택 · 1–9 해당 후보 선택 · a 모두 승인 후 다음 · x 선택 속성 틀림 · "
        "e 다른 값 · r 의류 아님 · s 건너뛰기"),
    "conflict": ("Someone else changed this garment first; your change was not applied. Their change:",
                 "다른 사람이 먼저 이 의류를 변경해서 내 변경은 적용되지 않았습니다. 그 사람의 변경:"),
    "decide_again": ("Look at it as it is now and decide again.", "현재 상태를 보고 다시 결정하세요."),
    "saved": ("Saved", "저장됨"),
    "photo": ("Photo", "사진"),
    "crop": ("Crop", "잘라낸 이미지"),
    "garment": ("Garment", "의류"),
    "similar": ("Similar garments", "비슷한 의류"),
    "map": ("Map", "지도"),
    "map_color_by": ("Colour by", "색 기준"),
    "map_help": ("garments that look alike lie close together; a point opens the garment, labels as tagged",
                 "비슷해 보이는 의류가 가까이 놓입니다. 점을 누르면 해당 의류가 열립니다 (라벨은 태깅 결과)"),
    "map_other": ("(other)", "(기타)"),
    "photos": ("Photos", "사진"),
    "garments": ("Garments", "의류"),
    "runs": ("Tag runs", "태깅 실행"),
    "reviewed": ("Reviewed", "검수 완료"),
    "corrections": ("Log entries", "변경 기록 수"),
    "per_part": ("Garments per part", "부위별 의류"),
    "per_category": ("Garments per category", "카테고리별 의류"),
    "per_colour": ("Garments per colour", "색상별 의류"),
    "progress": ("Review progress", "검수 진행"),
    "accuracy": ("Model accuracy as reviewers see it", "검수자가 본 모델 정확도"),
    "accuracy_help": ("Per attribute: of the predictions a reviewer looked at, the share they corrected or rejected.",
                      "속성별: 검수자가 본 예측 중 수정하거나 거부한 비율."),
    "corrected_share": ("corrected", "수정 비율"),
    "reviewed_n": ("reviewed", "검수"),
    "no_models": ("No models are loaded, so photos cannot be tagged here. Start the server with "
                  "--detector det.pt --classifier cls.pt to register products.",
                  "모델이 로드되지 않아 사진을 태깅할 수 없습니다. 상품을 등록하려면 "
                  "--detector det.pt --classifier cls.pt 옵션으로 서버를 시작하세요."),
    "drop": ("Drop photos of one product here, or choose files", "한 상품의 사진을 여기에 끌어다 놓거나 파일을 선택하세요"),
    "tagging": ("Tagging", "태깅 중"),
    "busy": ("The server is tagging {queued} photos already: try again in {seconds} s.",
             "서버가 이미 사진 {queued}장을 태깅하고 있습니다: {seconds}초 뒤에 다시 시도하세요."),
    "resend": ("sent again by itself", "자동으로 다시 보냅니다"),
    "proposal": ("Proposed values (over all photos)", "제안 값 (모든 사진 종합)"),
    "proposal_help": ("Confirm each value or pick another; then name the product and save.",
                      "각 값을 확인하거나 다른 값을 고른 뒤 상품 이름을 입력하고 저장하세요."),
    "sku": ("SKU", "상품 코드"),
    "product_name": ("Product name", "상품명"),
    "save_product": ("Save product", "상품 저장"),
    "no_detections": ("The models found no garment in these photos; pick the values yourself.",
                      "모델이 의류를 찾지 못했습니다. 값을 직접 고르세요."),
    "top_k": ("Top candidates", "상위 후보"),
    "add_user": ("Add user", "사용자 추가"),
    "set_role": ("Set role", "역할 변경"),
    "remove": ("Remove", "삭제"),
    "export_help": ("Reviewed garments (confirmed and corrected) as a zip: COCO for the detector, or crops "
                    "with a manifest for the classifier — what `garmentparse export` writes.",
                    "검수된 의류(확인·수정)를 zip으로: 검출기용 COCO 또는 분류기용 잘라낸 이미지와 manifest "
                    "(`garmentparse export`와 같음)."),
    "format": ("Format", "형식"),
    "images_root": ("Photos folder (manifest)", "사진 폴더 (manifest)"),
    "download": ("Export and download", "내보내고 다운로드"),
    "language": ("한국어", "English"),
    "logged_in_as": ("Logged in as", "로그인:"),
    "bad_login": ("Wrong name or password.", "이름 또는 비밀번호가 틀렸습니다."),
    "throttled": ("Too many failed logins. Wait {wait} and try again.",
                  "로그인 실패가 너무 많습니다. {wait} 후에 다시 시도하세요."),
    "seconds": ("{n} s", "{n}초"),
    "minutes": ("{n} min", "{n}분"),
    "error": ("Something is wrong", "문제가 있습니다"),
    "back": ("Back", "뒤로"),
    "view": ("Open", "열기"),
    "values": ("Values", "값"),
    "none": ("none", "없음"),
    "models": ("Models", "모델"),
    "compare": ("Compare runs", "실행 비교"),
    "compare_with": ("Compare with", "비교 대상"),
    "compare_go": ("Compare", "비교"),
    "created": ("Created", "생성"),
    "model_files": ("Models", "모델"),
    "reviewed_garments": ("Reviewed", "검수됨"),
    "truth_seen": ("Reviewed truth on its photos", "사진의 검수 정답"),
    "recall": ("Detection recall", "검출 재현율"),
    "false_positives": ("Not garments", "의류 아님"),
    "run_accuracy": ("Accuracy against reviewed truth", "검수 정답 대비 정확도"),
    "run_accuracy_help": ("Each run's garments matched by mask to the reviewed garments (of any run) on the same "
                          "photos; per attribute, the share of reviewed values it predicted.",
                          "각 실행의 의류를 같은 사진의 검수된 의류(어느 실행이든)와 마스크로 맞춘 뒤, 속성별로 "
                          "검수된 값을 맞게 예측한 비율."),
    "accuracy_over_time": ("Accuracy against reviewed truth, run by run", "실행별 검수 정답 대비 정확도"),
    "all_heads": ("all attributes", "모든 속성"),
    "no_truth": ("Nothing reviewed on these runs' photos yet.", "이 실행들의 사진에서 아직 검수된 것이 없습니다."),
    "no_runs": ("No tag runs yet.", "아직 태깅 실행이 없습니다."),
    "run_a": ("Run A", "실행 A"),
    "run_b": ("Run B", "실행 B"),
    "no_common_photos": ("These runs share no photo: there is nothing to compare.",
                         "두 실행에 공통된 사진이 없어 비교할 것이 없습니다."),
    "same_run": ("Choose two different runs.", "서로 다른 두 실행을 고르세요."),
    "shared_photos": ("photos in both", "공통 사진"),
    "matched": ("garments matched", "짝지은 의류"),
    "changed": ("with changed labels", "라벨이 바뀐 의류"),
    "only_in": ("only in", "한쪽에만:"),
    "no_changes": ("same labels", "라벨 같음"),
    "not_found_by_other": ("did not find this garment", "이 의류를 찾지 못함"),
    "iou": ("mask IoU", "마스크 IoU"),
}

HEAD_KO = {"part": "부위", **{name: a.korean for name, a in vocab.ATTRIBUTES.items()}}


def text(key: str, lang: str) -> str:
    en, ko = TEXT[key]
    return ko if lang == "ko" else en


def head_name(head: str, lang: str) -> str:
    return HEAD_KO.get(head, head) if lang == "ko" else head.replace("_", " ")


def label(head: str, value: str | None, lang: str) -> str:
    """A stored value in ``lang``; multi-label values (``a|b``) part by part; ``—`` for none."""
    if value is None or value == "":
        return "—"
    return ", ".join(vocab.translate(head, v, lang) if head in HEAD_KO else v for v in value.split("|"))


def choices(head: str) -> list[str]:
    """Every value ``head`` can take (English ids)."""
    if head == "part":
        return list(vocab.PARTS)
    attr = vocab.ATTRIBUTES.get(head)
    return attr.values if attr else []


def is_multi(head: str) -> bool:
    attr = vocab.ATTRIBUTES.get(head)
    return bool(attr and attr.multi_label)
