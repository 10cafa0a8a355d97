"""Realistic Chinese text for demo data: hazard titles and descriptions, special campaigns, people's names
and the notes that go with each step of a hazard's life (extension, rectification, verification, return,
invalidation, reassignment).

The phrases themselves are package data, ``phrases.yaml`` beside this module; this module holds the code that
draws from them. Every generator takes a ``random.Random`` and draws only from it: there is no module-level
randomness, no I/O after the phrases are read at import, and no clock, so one seed always gives the same demo.
The field codes are those of the default ``config/policy.yaml``.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import yaml

__all__ = [
    "FIELD_WEIGHTS",
    "SOURCES",
    "SOURCE_WEIGHTS",
    "Campaign",
    "campaign_plan",
    "evidence_refs",
    "extension_reason",
    "hazard_text",
    "invalid_reason",
    "person_name",
    "reassign_reason",
    "rectification_note",
    "return_reason",
    "verification_note",
]

TITLE_MAX_CHARS = 30
PHRASES_FILE = "phrases.yaml"


def _load_phrases() -> dict[str, Any]:
    text = files("hazardloop.demo").joinpath(PHRASES_FILE).read_text(encoding="utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when libyaml is there: 10x quicker
    return yaml.load(text, Loader=loader)


_PHRASES = _load_phrases()


def _texts(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(values)


def _by_field(table: dict[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    return {field: tuple(texts) for field, texts in table.items()}


FIELD_WEIGHTS: dict[str, float] = dict(_PHRASES["field_weights"])
SOURCES: dict[str, str] = dict(_PHRASES["sources"])
SOURCE_WEIGHTS: dict[str, float] = dict(_PHRASES["source_weights"])

# --- slot fillers: invented but plausible names -----------------------------------------------------------

_WORDS: dict[str, tuple[str, ...]] = {
    name: tuple(text.split()) for name, text in _PHRASES["words"].items() if name != "plate_chars"
}
_BRANDS = _WORDS["brands"]
_INDUSTRIES = _WORDS["industries"]
_CHEM_INDUSTRIES = _WORDS["chem_industries"]
_ROAD_STEMS = _WORDS["road_stems"]
_ROAD_SUFFIXES = _WORDS["road_suffixes"]
_ESTATE_STEMS = _WORDS["estate_stems"]
_ESTATE_SUFFIXES = _WORDS["estate_suffixes"]
_SHOP_STEMS = _WORDS["shop_stems"]
_EATERY_KINDS = _WORDS["eatery_kinds"]
_SHOP_KINDS = _WORDS["shop_kinds"]
_HOTEL_KINDS = _WORDS["hotel_kinds"]
_VENUE_KINDS = _WORDS["venue_kinds"]
_NETBAR_KINDS = _WORDS["netbar_kinds"]
_SCHOOL_STEMS = _WORDS["school_stems"]
_SCHOOL_KINDS = _WORDS["school_kinds"]
_KINDER_KINDS = _WORDS["kinder_kinds"]
_PHARMACY_KINDS = _WORDS["pharmacy_kinds"]
_MARKET_STEMS = _WORDS["market_stems"]
_MARKET_KINDS = _WORDS["market_kinds"]
_VILLAGE_HEADS = _WORDS["village_heads"]
_VILLAGE_TAILS = _WORDS["village_tails"]
_RIVERS = _WORDS["rivers"]
_OPERATORS = _WORDS["operators"]
_APP_STEMS = _WORDS["app_stems"]
_APP_KINDS = _WORDS["app_kinds"]
_BRIDGE_STEMS = _WORDS["bridge_stems"]
_PLATE_CHARS: str = _PHRASES["words"]["plate_chars"]

_Maker = Callable[[random.Random, str], dict[str, str]]


def _road(rng: random.Random) -> str:
    return rng.choice(_ROAD_STEMS) + rng.choice(_ROAD_SUFFIXES)


def _school(rng: random.Random) -> str:
    return rng.choice(_SCHOOL_STEMS) + rng.choice(_SCHOOL_KINDS)


def _is_village(place: str) -> bool:
    return place.endswith(("村", "社区"))


def _make_company(rng: random.Random, _place: str) -> dict[str, str]:
    short = rng.choice(_BRANDS) + rng.choice(_INDUSTRIES)
    head = rng.choice(("绍兴", "绍兴", "浙江", ""))
    tail = rng.choice(("有限公司", "有限公司", "有限公司", "股份有限公司", "厂"))
    return {"co": short, "company": head + short + tail}


def _make_chem(rng: random.Random, _place: str) -> dict[str, str]:
    short = rng.choice(_BRANDS) + rng.choice(_CHEM_INDUSTRIES)
    head = rng.choice(("绍兴", "浙江", ""))
    return {"chem": short, "chem_company": head + short + "有限公司"}


def _make_cross(rng: random.Random, _place: str) -> dict[str, str]:
    first = _road(rng)
    second = _road(rng)
    while second[:2] == first[:2]:
        second = _road(rng)
    return {"cross": f"{first}与{second}交叉口"}


def _make_span(rng: random.Random, _place: str) -> dict[str, str]:
    low = rng.randint(1, 400)
    return {"span": f"{low}号至{low + rng.randint(20, 200)}号"}


def _make_xroad(rng: random.Random, _place: str) -> dict[str, str]:
    kind, letter = rng.choice((("县道", "X"), ("县道", "X"), ("乡道", "Y")))
    stake = f"K{rng.randint(0, 38)}+{rng.randint(0, 9) * 100:03d}"
    return {"xroad": f"{kind}{letter}{rng.randint(101, 399)}", "stake": stake}


def _make_village(rng: random.Random, place: str) -> dict[str, str]:
    stem = rng.choice(_VILLAGE_HEADS) + rng.choice(_VILLAGE_TAILS)
    if _is_village(place):  # inside a village: name a hamlet (自然村) or a villagers' group instead
        if rng.random() < 0.5:
            return {"vill": f"{stem}自然村"}
        return {"vill": f"第{rng.randint(1, 12)}村民小组"}
    return {"vill": stem + "村"}


def _make_hall(rng: random.Random, _place: str) -> dict[str, str]:
    return {"hall": f"{rng.choice(_OPERATORS)}{_road(rng)}营业厅"}


def _make_app(rng: random.Random, _place: str) -> dict[str, str]:
    return {"app": f"“{rng.choice(_APP_STEMS)}{rng.choice(_APP_KINDS)}”APP"}


def _make_amount(rng: random.Random, _place: str) -> dict[str, str]:
    if rng.random() < 0.3:
        return {"amount": f"{rng.randint(2, 9)}千余元"}
    return {"amount": f"{rng.randint(1, 60)}.{rng.randint(0, 9)}万元"}


def _make_plate(rng: random.Random, _place: str) -> dict[str, str]:
    return {"plate": "浙D" + "".join(rng.choice(_PLATE_CHARS) for _ in range(5))}


def _make_canteen(rng: random.Random, _place: str) -> dict[str, str]:
    kind = rng.randrange(3)
    if kind == 0:
        return {"canteen": _school(rng) + "食堂"}
    if kind == 1:
        return {"canteen": rng.choice(_BRANDS) + rng.choice(_INDUSTRIES) + "职工食堂"}
    return {"canteen": rng.choice(_SHOP_STEMS[:16]) + rng.choice(("养老院", "敬老院", "工地")) + "食堂"}


def _make_site(rng: random.Random, _place: str) -> dict[str, str]:
    kind = rng.randrange(6)
    if kind == 0:
        estate = rng.choice(_ESTATE_STEMS) + rng.choice(_ESTATE_SUFFIXES)
        site = estate + rng.choice(("二期", "三期")) + "项目"
    elif kind == 1:
        site = _road(rng) + rng.choice(("提升改造工程", "拓宽工程", "综合管廊工程"))
    elif kind == 2:
        site = rng.choice(_BRANDS) + rng.choice(_INDUSTRIES) + "新建厂房项目"
    elif kind == 3:
        site = rng.choice(_ESTATE_STEMS) + rng.choice(("安置房项目", "保障房项目", "人才公寓项目"))
    elif kind == 4:
        site = rng.choice(_BRANDS) + rng.choice(("商业综合体项目", "广场项目", "写字楼项目"))
    else:
        site = _school(rng) + rng.choice(("扩建工程", "改建工程"))
    return {"site": site}


def _pick(options: Sequence[str], key: str) -> _Maker:
    def make(rng: random.Random, _place: str) -> dict[str, str]:
        return {key: rng.choice(options)}

    return make


def _compose(key: str, *parts: Sequence[str]) -> _Maker:
    def make(rng: random.Random, _place: str) -> dict[str, str]:
        return {key: "".join(rng.choice(p) for p in parts)}

    return make


def _number(key: str, low: int, high: int, unit: str = "") -> _Maker:
    def make(rng: random.Random, _place: str) -> dict[str, str]:
        return {key: f"{rng.randint(low, high)}{unit}"}

    return make


def _simple(key: str, fn: Callable[[random.Random], str]) -> _Maker:
    def make(rng: random.Random, _place: str) -> dict[str, str]:
        return {key: fn(rng)}

    return make


_MAKERS: dict[str, _Maker] = {
    "co": _make_company,
    "company": _make_company,
    "chem": _make_chem,
    "chem_company": _make_chem,
    "cross": _make_cross,
    "span": _make_span,
    "xroad": _make_xroad,
    "stake": _make_xroad,
    "vill": _make_village,
    "hall": _make_hall,
    "app": _make_app,
    "amount": _make_amount,
    "plate": _make_plate,
    "canteen": _make_canteen,
    "site": _make_site,
    "road": _simple("road", _road),
    "addr": _simple("addr", lambda rng: f"{_road(rng)}{rng.randint(1, 999)}号"),
    "school": _simple("school", _school),
    "kinder": _compose("kinder", _SCHOOL_STEMS, _KINDER_KINDS),
    "estate": _compose("estate", _ESTATE_STEMS, _ESTATE_SUFFIXES),
    "eatery": _compose("eatery", _SHOP_STEMS, _EATERY_KINDS),
    "shop": _compose("shop", _SHOP_STEMS, _SHOP_KINDS),
    "hotel": _compose("hotel", _SHOP_STEMS, _HOTEL_KINDS),
    "venue": _compose("venue", _SHOP_STEMS, _VENUE_KINDS),
    "netbar": _compose("netbar", _SHOP_STEMS, _NETBAR_KINDS),
    "pharmacy": _compose("pharmacy", _SHOP_STEMS, _PHARMACY_KINDS),
    "market": _compose("market", _MARKET_STEMS, _MARKET_KINDS),
    "station": _compose("station", _BRANDS, ("加油站", "加油加气站")),
    "bridge": _compose("bridge", _BRIDGE_STEMS, ("桥",)),
    "river": _pick(_RIVERS, "river"),
    "person": _compose(
        "person", ("王", "陈", "金", "张", "俞", "钱", "徐", "沈", "周", "孙", "楼", "何"), ("某", "某某")
    ),
    "bldg": _number("bldg", 1, 36, "幢"),
    "no": _number("no", 1, 999),
    "n": _number("n", 2, 9),
    "many": _number("many", 10, 60),
    "floor": _number("floor", 2, 7),
    "height": _number("height", 2, 6),
    "depth": _number("depth", 5, 15),
    "stories": _number("stories", 2, 4),
    "pct": _number("pct", 20, 90),
    "seats": _number("seats", 19, 35),
    "area": _number("area", 2, 12),
    "crack": _number("crack", 3, 25),
    "wall": _number("wall", 5, 30),
    "length": _simple("length", lambda rng: str(rng.randint(2, 16) * 50)),
    "qty": _simple("qty", lambda rng: f"{rng.randint(3, 60)}吨"),
    "drums": _simple("drums", lambda rng: f"{rng.randint(5, 80)}桶"),
}


class _Slots(dict[str, str]):
    """Slot values for one draw, made on first use so a template only spends randomness on what it names;
    a maker that fills related slots (a company's short and full name) keeps them consistent."""

    def __init__(self, rng: random.Random, place: str) -> None:
        super().__init__(place=place)
        self._rng = rng
        self._place = place

    def __missing__(self, key: str) -> str:
        maker = _MAKERS.get(key)
        if maker is None:
            raise KeyError(f"demo_content: no filler for slot '{key}'")
        for name, value in maker(self._rng, self._place).items():
            self.setdefault(name, value)
        return self[key]


# --- hazard scenarios: (title, what was found and where, what the risk is) ------------------------------

_Scenario = tuple[str, str, str]

_SCENARIOS: dict[str, tuple[_Scenario, ...]] = {
    field: tuple((s["title"], s["finding"], s["risk"]) for s in scenarios)
    for field, scenarios in _PHRASES["scenarios"].items()
}
_INTROS = _texts(_PHRASES["intros"])
_AFTERWORDS = _texts(_PHRASES["afterwords"])


def _scenarios(field: str) -> tuple[_Scenario, ...]:
    try:
        return _SCENARIOS[field]
    except KeyError:
        known = ", ".join(_SCENARIOS)
        raise ValueError(f"no hazard scenarios for field '{field}'; known fields: {known}") from None


def hazard_text(rng: random.Random, field: str, place: str) -> tuple[str, str]:
    """A (title, description) pair for a hazard of ``field`` found in ``place`` (a township, street or
    village name). The title is at most 30 characters; the description says in one to three sentences what
    was found, where, and what the risk is. Raises ``ValueError`` for an unknown field."""
    title_tpl, finding_tpl, risk = rng.choice(_scenarios(field))
    slots = _Slots(rng, place)
    title = title_tpl.format_map(slots)
    description = rng.choice(_INTROS) + finding_tpl.format_map(slots) + "。" + risk
    if rng.random() < 0.4:
        description += rng.choice(_AFTERWORDS)
    if len(title) > TITLE_MAX_CHARS:  # not reached with the fillers above; a guard for edited lists
        title = title[: TITLE_MAX_CHARS - 1] + "…"
    return title, description


# --- special campaigns (专项整治) -------------------------------------------------------------------------

_CAMPAIGN_THEMES = _by_field(_PHRASES["campaign_themes"])


@dataclass(frozen=True)
class Campaign:
    """One batch of a special campaign (专项整治): a field, a start date, a duration in weeks and how many
    hazards a day its inspections turn up."""

    code: str  # ZX-2025-01
    name: str  # 2025年第3批城镇燃气安全专项整治
    field: str
    start: datetime.date
    weeks: int  # 2 to 6
    intensity: float  # hazards detected per day while the campaign runs

    @property
    def end(self) -> datetime.date:
        """The campaign's last day (inclusive)."""
        return self.start + datetime.timedelta(days=self.weeks * 7 - 1)

    def covers(self, day: datetime.date) -> bool:
        """True when ``day`` falls within the campaign."""
        return self.start <= day <= self.end


def campaign_plan(rng: random.Random, year: int, count: int = 25) -> list[Campaign]:
    """``count`` campaign batches spread over ``year``, in date order and numbered ZX-<year>-01 onwards.
    Each field gets at least one batch when ``count`` allows it; the rest follow ``FIELD_WEIGHTS``. Every
    campaign starts and ends within the year."""
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    fields = list(FIELD_WEIGHTS)
    chosen = rng.sample(fields, len(fields))
    chosen += rng.choices(fields, weights=[FIELD_WEIGHTS[f] for f in fields], k=max(0, count - len(fields)))
    chosen = chosen[:count]
    rng.shuffle(chosen)

    first_day = datetime.date(year, 1, 1)
    last_day = datetime.date(year, 12, 31)
    slot = ((last_day - first_day).days + 1) / count
    drafts: list[tuple[datetime.date, str, int]] = []
    for i, field in enumerate(chosen):
        weeks = rng.randint(2, 6)
        offset = int(i * slot) + rng.randint(0, max(0, int(slot) - 1))
        start = first_day + datetime.timedelta(days=offset)
        start = min(start, last_day - datetime.timedelta(days=weeks * 7 - 1))
        drafts.append((start, field, weeks))
    drafts.sort(key=lambda d: d[0])

    themes = {f: rng.sample(t, len(t)) for f, t in _CAMPAIGN_THEMES.items()}
    used: dict[str, int] = {}
    plan: list[Campaign] = []
    for number, (start, field, weeks) in enumerate(drafts, start=1):
        field_themes = themes[field]
        theme = field_themes[used.get(field, 0) % len(field_themes)]
        used[field] = used.get(field, 0) + 1
        plan.append(
            Campaign(
                code=f"ZX-{year}-{number:02d}",
                name=f"{year}年第{number}批{theme}",
                field=field,
                start=start,
                weeks=weeks,
                intensity=round(rng.uniform(4.0, 16.0), 1),
            )
        )
    return plan


# --- people -------------------------------------------------------------------------------------------
# Common surnames, with some typical of Shaoxing weighted in; given names of each gender.
_SURNAMES = tuple(_PHRASES["people"]["surnames"].split())
_GIVEN_MALE = tuple(_PHRASES["people"]["given_male"].split())
_GIVEN_FEMALE = tuple(_PHRASES["people"]["given_female"].split())


def person_name(rng: random.Random) -> str:
    """A realistic Chinese full name: a surname and one or two given-name characters of one gender."""
    surname = rng.choice(_SURNAMES)
    given = _GIVEN_MALE if rng.random() < 0.55 else _GIVEN_FEMALE
    if rng.random() < 0.3:
        return surname + rng.choice(given)
    first = rng.choice(given)
    second = rng.choice(given)
    while second == first and rng.random() < 0.8:  # 婷婷 and 晨晨 exist, but rarely
        second = rng.choice(given)
    return surname + first + second


# --- notes for each step of the loop -----------------------------------------------------------------
_EXTENSION_GENERIC = _texts(_PHRASES["extension_reasons"]["generic"])
_EXTENSION_BY_FIELD = _by_field(_PHRASES["extension_reasons"]["by_field"])
_RETURN_GENERIC = _texts(_PHRASES["return_reasons"]["generic"])
_RETURN_BY_FIELD = _by_field(_PHRASES["return_reasons"]["by_field"])
_RECTIFICATION_GENERIC = _texts(_PHRASES["rectification_notes"]["generic"])
_RECTIFICATION_BY_FIELD = _by_field(_PHRASES["rectification_notes"]["by_field"])
_VERIFICATION_NOTES = _texts(_PHRASES["verification_notes"])
_INVALID_REASONS = _texts(_PHRASES["invalid_reasons"])
_REASSIGN_REASONS = _texts(_PHRASES["reassign_reasons"])


def _pick_for_field(
    rng: random.Random, field: str, by_field: dict[str, tuple[str, ...]], generic: tuple[str, ...]
) -> str:
    """A field-specific text two times in three when the field has any, else a generic one."""
    specific = by_field.get(field, ())
    if specific and rng.random() < 2 / 3:
        return rng.choice(specific)
    return rng.choice(generic)


def extension_reason(rng: random.Random, field: str) -> str:
    """Why a responsible unit asks for more time (延期申请理由). Unknown fields get a generic reason."""
    return _pick_for_field(rng, field, _EXTENSION_BY_FIELD, _EXTENSION_GENERIC)


def return_reason(rng: random.Random, field: str) -> str:
    """Why verification failed and the hazard goes back for rework (退回整改理由)."""
    return _pick_for_field(rng, field, _RETURN_BY_FIELD, _RETURN_GENERIC)


def rectification_note(rng: random.Random, field: str) -> str:
    """What the responsible unit did, as submitted for verification (整改情况说明)."""
    return _pick_for_field(rng, field, _RECTIFICATION_BY_FIELD, _RECTIFICATION_GENERIC)


def verification_note(rng: random.Random) -> str:
    """The verifier's note when verification passes (核查意见)."""
    return rng.choice(_VERIFICATION_NOTES)


def invalid_reason(rng: random.Random) -> str:
    """Why a report is closed as invalid: not true, duplicate, already fixed … (不属实 / 重复上报)."""
    return rng.choice(_INVALID_REASONS)


def reassign_reason(rng: random.Random) -> str:
    """Why a unit disputes responsibility and asks for the hazard to go elsewhere (转办理由)."""
    return rng.choice(_REASSIGN_REASONS)


def evidence_refs(rng: random.Random, hazard_ref: str) -> list[str]:
    """References to the evidence of a rectification: one to three photos, sometimes a report or a video,
    e.g. ``photo/HZ-2025-000123-1.jpg``."""
    refs = [f"photo/{hazard_ref}-{i}.jpg" for i in range(1, rng.randint(1, 3) + 1)]
    if rng.random() < 0.4:
        refs.append(f"doc/{hazard_ref}-rectification.pdf")
    if rng.random() < 0.1:
        refs.append(f"video/{hazard_ref}-1.mp4")
    return refs
