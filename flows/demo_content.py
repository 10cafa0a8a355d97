"""Realistic Chinese text for demo data: hazard titles and descriptions, special campaigns, people's names
and the notes that go with each step of a hazard's life (extension, rectification, verification, return,
invalidation, reassignment).

Every generator takes a ``random.Random`` and draws only from it: there is no module-level randomness, no
I/O and no clock, so one seed always gives the same demo. The field codes are those of the default
``config/policy.yaml``.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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

# Relative frequency of each field in a year of hazards (they need not sum to one). Safety production,
# fire and road traffic dominate a municipal ledger; campus and "other" are rare.
FIELD_WEIGHTS: dict[str, float] = {
    "safety_production": 0.22,
    "road_traffic": 0.18,
    "fire": 0.20,
    "telecom_fraud": 0.07,
    "hazardous_chemicals": 0.05,
    "gas": 0.07,
    "construction": 0.08,
    "campus": 0.04,
    "food_drug": 0.06,
    "other": 0.03,
}

SOURCES: dict[str, str] = {
    "grid_patrol": "网格巡查",
    "hotline": "12345热线",
    "sensor": "物联感知预警",
    "monitoring": "监测点预警",
    "campaign": "专项整治排查",
    "self_inspection": "企业自查",
    "public_report": "群众举报",
}

# Relative frequency of each source; grid patrols find most hazards.
SOURCE_WEIGHTS: dict[str, float] = {
    "grid_patrol": 0.45,
    "hotline": 0.12,
    "sensor": 0.07,
    "monitoring": 0.05,
    "campaign": 0.15,
    "self_inspection": 0.08,
    "public_report": 0.08,
}


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# --- slot fillers: invented but plausible names -----------------------------------------------------------

_BRANDS = _words(
    "恒丰 宏达 永利 越兴 华盛 盛鑫 东盛 联发 荣兴 新越 凯达 明辉 瑞丰 嘉业 锦程 博远 信达 三友 "
    "天元 金诚 汇通 鸿运 兴业 正泰 日升 海利 富强 协和 众诚 利民 卓越 万象 鼎盛 源丰 康达 伟业"
)
_INDUSTRIES = _words(
    "纺织 印染 针织 袜业 机械 五金 轴承 电机 铸造 服饰 家纺 木业 塑业 包装 汽配 电器 化纤 领带 "
    "珍珠 阀门 弹簧 铜业 制衣 家具"
)
_CHEM_INDUSTRIES = _words("化工 新材料 精细化工 染料化工 医药化工 涂料 助剂 树脂 化学 油墨")
_ROAD_STEMS = _words(
    "解放 中兴 人民 胜利 延安 环城 镜湖 笛扬 群贤 越东 越西 会稽 稽山 兰亭 鉴湖 二环 凤林 北海 "
    "曲屯 迪荡 世纪 金柯桥 柯北 齐贤 华舍 百官 江扬 舜江 暨阳 艮塔 浣纱 望云 苎萝 鹿山 剡湖 鼓山 "
    "南明 七星 育才 光明 建设 新华 文化 工业 振兴 兴越"
)
_ROAD_SUFFIXES = _words("路 路 路 大道 街 东路 西路 南路 北路")
_ESTATE_STEMS = _words(
    "金色 阳光 锦绣 水岸 越秀 府河 翠湖 碧水 兰亭 镜湖 梅山 龙山 东湖 鉴水 书圣 梧桐 香樟 名仕 "
    "星河 怡和 康乐 景湖 江南 新城 城东 城南 和美 御景 桃园 玉兰"
)
_ESTATE_SUFFIXES = _words("花园 家园 苑 小区 华府 名邸 新村 公寓 雅苑 嘉园 华庭")
_SHOP_STEMS = _words(
    "越味 鉴湖 乌篷 兰亭 状元 阿明 阿祥 小陈 老王 福记 顺发 金牌 江南 古越 会稽 稽山 老绍兴 "
    "好运来 惠民 家家乐 佳佳 百姓 同福 聚鲜"
)
_EATERY_KINDS = _words("饭店 面馆 酒家 大排档 小吃店 土菜馆 烧烤店 快餐店 火锅店 农家乐 餐馆")
_SHOP_KINDS = _words("便利店 超市 副食品店 生鲜超市 百货商店 食品店 零食店")
_HOTEL_KINDS = _words("宾馆 酒店 民宿 旅馆 快捷酒店 商务宾馆")
_VENUE_KINDS = _words("KTV 娱乐会所 足浴店 棋牌室 密室逃脱馆 剧本杀馆 溜冰场")
_NETBAR_KINDS = _words("网吧 网咖 电竞馆")
_SCHOOL_STEMS = _words("越秀 阳明 东湖 鉴湖 会稽 兰亭 稽山 育才 启航 新城 南池 北辰 树人 求是 培英 文澜 蕺山 春晖")
_SCHOOL_KINDS = _words("小学 实验小学 中心小学 中学 初级中学 实验学校 高级中学 职业技术学校")
_KINDER_KINDS = _words("幼儿园 中心幼儿园 实验幼儿园")
_PHARMACY_KINDS = _words("大药房 药店 医药连锁店 诊所")
_MARKET_STEMS = _words("城东 城西 城南 城北 东方 中心 新城 镇中 老街 东街 西街 江滨 湖滨 北站")
_MARKET_KINDS = _words("农贸市场 菜市场 小商品市场 综合市场")
_VILLAGE_HEADS = _words("前 后 上 下 东 西 新 大 小 高 石 黄 塘 山 溪")
_VILLAGE_TAILS = _words("王 林 周 陈 塘 溪 岙 桥 山 湖 坞 埠 畈 宅 坂 店")
_RIVERS = _words("曹娥江 浦阳江 剡溪 新昌江 若耶溪 鉴湖 浙东运河 环城河 瓜渚湖 镜湖 黄泽江 长乐江")
_OPERATORS = _words("中国移动 中国联通 中国电信")
_APP_STEMS = _words("鑫盛 汇金 易赚 优品 乐购 速贷 聚财 星链 富途宝 金元 满客 惠多多")
_APP_KINDS = _words("理财 优选 商城 钱包 投资 贷款 任务 返利")
_BRIDGE_STEMS = _words("广宁 八字 光相 题扇 太平 迎恩 东双 西郭 洋江 塘湾 龙华 马鞍 万安")
_PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"

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
    "safety_production": (
        (
            "{co}车间安全出口被货物堵塞",
            "{place}{addr}{company}生产车间{n}处安全出口被成品布匹和原料堆放堵塞",
            "一旦发生火灾等事故，作业人员无法及时疏散，易造成群死群伤。",
        ),
        (
            "{co}冲床光电保护装置失效",
            "{place}{addr}{company}冲压车间{n}台冲床光电保护装置被拆除或失效，员工徒手送料",
            "极易发生手指压伤、截肢等机械伤害事故。",
        ),
        (
            "{co}污水池清理作业未经审批",
            "{place}{company}清理厂区污水池时未履行有限空间作业审批，现场未配备气体检测仪和通风设备",
            "作业人员存在中毒和窒息风险，盲目施救易扩大伤亡。",
        ),
        (
            "{co}除尘系统积尘未及时清理",
            "{place}{addr}{company}打磨车间除尘管道和地面积尘较厚，清灰记录缺失",
            "金属粉尘达到一定浓度遇火源可能引发粉尘爆炸。",
        ),
        (
            "{co}特种作业人员无证上岗",
            "{place}{company}现场{n}名电焊和叉车作业人员未能出示特种作业操作证",
            "无证人员操作不规范，易引发火灾、触电或车辆伤害事故。",
        ),
        (
            "{co}车间电气线路私拉乱接",
            "{place}{addr}{company}车间配电箱门缺失，多处电线私拉乱接、未穿管保护",
            "存在触电和电气火灾隐患。",
        ),
        (
            "{co}行车钢丝绳磨损严重",
            "{place}{company}车间桥式起重机钢丝绳断丝磨损严重，限位器失灵且未按期检验",
            "吊装作业中可能断绳坠物，造成起重伤害。",
        ),
        (
            "{co}厂房彩钢瓦屋面破损",
            "{place}{addr}{company}厂房屋顶彩钢瓦多处锈蚀破损，检修通道未设防护",
            "检修人员存在高处坠落风险，台风天气屋面易被掀翻。",
        ),
        (
            "{co}未建立隐患排查治理台账",
            "{place}{company}未建立隐患排查治理台账，近{n}个月无安全教育培训记录",
            "企业主体责任落实不到位，隐患难以及时发现和消除。",
        ),
        (
            "{co}叉车制动失灵仍在使用",
            "{place}{company}仓库内一台叉车制动和喇叭失灵，仍在带病作业",
            "厂内机动车辆伤害风险较高。",
        ),
        (
            "{co}操作平台临边无防护栏",
            "{place}{addr}{company}二层操作平台临边未设置防护栏杆，高度约{height}米",
            "作业人员存在高处坠落风险。",
        ),
        (
            "{co}出租厂房转租小作坊",
            "{place}{addr}{company}将厂房分隔转租给{n}家小作坊，未签订安全管理协议",
            "多业态混杂、责任不清，事故隐患难以管控。",
        ),
        (
            "{co}储气罐超期未检验",
            "{place}{company}空压机房储气罐超过检验周期{n}个月仍在使用，安全阀无校验标识",
            "压力容器存在超压爆裂风险。",
        ),
        (
            "{co}熔炼区未设安全警示标识",
            "{place}{company}高温熔炼区域未设置安全警示标识，员工未佩戴防护用品",
            "作业人员存在灼烫伤害风险。",
        ),
    ),
    "road_traffic": (
        (
            "{cross}信号灯故障",
            "{place}{cross}机动车信号灯有{n}个灯组不亮，高峰时段车辆通行混乱",
            "路口车流量大，极易发生车辆碰撞事故。",
        ),
        (
            "{xroad}急弯路段缺少警示标志",
            "{place}{xroad}{stake}处为连续急弯下坡路段，未设置急弯警示标志和减速设施",
            "夜间及雨天行车视线差，易发生车辆冲出路外事故。",
        ),
        (
            "{road}路面坑槽塌陷",
            "{place}{road}{no}号附近机动车道出现约{area}平方米坑槽塌陷",
            "车辆避让不及易发生侧翻或追尾。",
        ),
        (
            "{road}人行横道标线磨损",
            "{place}{road}{school}门前人行横道标线磨损严重，未设置行人过街提示",
            "学生上下学过街存在被车辆碰撞的风险。",
        ),
        (
            "{road}路灯损坏夜间照明不足",
            "{place}{road}约{length}米路段路灯不亮，沿线无其他照明",
            "夜间行人和非机动车不易被发现，事故风险高。",
        ),
        (
            "{xroad}临水路段缺少护栏",
            "{place}{xroad}{stake}处道路紧邻河道，约{length}米路段未设置防护栏",
            "车辆一旦失控易坠入河中。",
        ),
        (
            "{road}占道施工未设警示",
            "{place}{road}{no}号附近管线施工占用车道，未设置警示灯和导向标志",
            "夜间车辆易撞上施工围挡。",
        ),
        (
            "{co}货车超限超载出厂",
            "{place}{company}出厂货车{plate}经检测超载约{pct}%，企业未落实源头治超措施",
            "超载车辆制动距离延长，易引发重大交通事故。",
        ),
        (
            "{vill}面包车违规超员载人",
            "{place}{vill}一辆面包车{plate}经常超员接送务工人员",
            "车辆超员且乘客多为老年人，一旦发生事故后果严重。",
        ),
        (
            "{road}中央隔离护栏缺损",
            "{place}{road}中央隔离护栏{n}处缺损，行人频繁横穿马路",
            "行人横穿与机动车冲突，易发生碰撞事故。",
        ),
        (
            "{bridge}桥面伸缩缝破损",
            "{place}{bridge}桥面伸缩缝破损翘起，桥头跳车明显",
            "车辆高速通过时易失控，二轮车存在摔倒风险。",
        ),
        (
            "{cross}绿化遮挡驾驶视线",
            "{place}{cross}转角绿化带灌木过高，遮挡驾驶人视线",
            "路口视距不足，易发生直行与转弯车辆碰撞。",
        ),
        (
            "{road}车辆违停占用非机动车道",
            "{place}{road}{span}路段车辆长期违停，占用非机动车道",
            "非机动车被迫驶入机动车道，事故风险增加。",
        ),
        (
            "{school}门口缺少减速设施",
            "{place}{road}{school}校门口路段未设置减速带和警示标志，车速较快",
            "学生上下学高峰存在被车辆碰撞风险。",
        ),
        (
            "{cross}电动自行车闯红灯多发",
            "{place}{cross}电动自行车闯红灯、逆行现象突出，缺少劝导人员",
            "极易与转弯机动车发生碰撞。",
        ),
    ),
    "fire": (
        (
            "{estate}电动自行车违规室内充电",
            "{place}{estate}{bldg}多户居民将电动自行车推入楼道和室内充电",
            "电池热失控起火蔓延快、毒烟大，极易造成人员伤亡。",
        ),
        (
            "{estate}地下车库消防通道堵塞",
            "{place}{estate}地下车库消防通道被车辆和杂物长期占用",
            "发生火灾时消防车辆和救援人员无法及时进入。",
        ),
        (
            "{shop}灭火器过期失效",
            "{place}{addr}{shop}店内{n}具灭火器压力表指针处于红区，已过有效期",
            "初起火灾无法有效扑救。",
        ),
        (
            "{estate}{bldg}室内消火栓无水",
            "{place}{estate}{bldg}室内消火栓试水无水，水泵接合器损坏",
            "高层建筑发生火灾时无法出水灭火。",
        ),
        (
            "{co}“三合一”场所违规住人",
            "{place}{addr}{company}生产、仓储与员工住宿设在同一建筑内，住宿区无独立疏散通道",
            "一旦起火人员难以逃生，易造成群死群伤。",
        ),
        (
            "{hotel}疏散指示标志损坏",
            "{place}{addr}{hotel}{n}处疏散指示标志和应急照明灯不亮",
            "火灾时住客难以辨认疏散方向。",
        ),
        (
            "{market}电气线路老化",
            "{place}{market}摊位电气线路老化破损，多处使用大功率电器",
            "市场内可燃物多，易发生电气火灾并迅速蔓延。",
        ),
        (
            "{estate}{bldg}楼道堆放可燃杂物",
            "{place}{estate}{bldg}楼道内堆放纸箱、旧家具等大量可燃杂物",
            "杂物遇明火易燃，并堵塞疏散通道。",
        ),
        (
            "{venue}营业期间安全出口上锁",
            "{place}{addr}{venue}营业期间{n}处安全出口被上锁",
            "人员密集场所一旦发生火灾，疏散受阻后果严重。",
        ),
        (
            "{co}违规搭建彩钢板仓库",
            "{place}{company}在厂区内违规搭建聚苯乙烯夹芯彩钢板仓库",
            "夹芯材料燃烧快、毒性大，火灾易蔓延。",
        ),
        (
            "{estate}消防控制室无人值守",
            "{place}{estate}消防控制室夜间无人值守，火灾报警控制器处于屏蔽状态",
            "火情无法及时发现和处置。",
        ),
        (
            "{estate}电动自行车飞线充电",
            "{place}{estate}{bldg}居民从{floor}楼窗口私拉电线为楼下电动自行车充电",
            "线路裸露易短路起火，并有触电风险。",
        ),
        (
            "{eatery}厨房烟道油污积聚",
            "{place}{addr}{eatery}厨房排油烟管道油垢较厚，长期未清洗",
            "明火窜入烟道易引发火灾。",
        ),
        (
            "{estate}{bldg}自动喷淋系统瘫痪",
            "{place}{estate}{bldg}地下室自动喷淋系统管网阀门关闭，末端试水无压力",
            "火灾时自动灭火设施无法启动。",
        ),
        (
            "{co}火灾自动报警系统故障",
            "{place}{company}火灾自动报警系统存在{many}个故障点，长期未维保",
            "火情无法及时报警，延误处置。",
        ),
    ),
    "telecom_fraud": (
        (
            "{estate}居民疑似被诱导刷单",
            "{place}{estate}一名居民反映在{app}上做“刷单返利”任务，已转账{amount}",
            "属于典型刷单返利诈骗，存在继续被骗、扩大损失的风险。",
        ),
        (
            "{hall}涉诈电话卡异常开户",
            "{place}{hall}近期有同一人员为他人批量办理电话卡{many}张",
            "相关电话卡可能流入涉诈团伙，用于实施电信网络诈骗。",
        ),
        (
            "{vill}疑似“两卡”收购点",
            "{place}{vill}一处出租房内有人高价收购银行卡和电话卡",
            "“两卡”流入诈骗团伙后将被用于转移赃款。",
        ),
        (
            "{estate}老人疑似遭遇养老诈骗",
            "{place}{estate}多名老人参加所谓“免费养生讲座”后购买高价保健品",
            "老年人财产损失风险较大，且易群体受骗。",
        ),
        (
            "{school}学生疑似出借银行卡",
            "{place}{school}有学生反映同学将本人银行卡出借他人用于“走流水”",
            "出借银行卡涉嫌帮助信息网络犯罪活动，学生面临法律责任。",
        ),
        (
            "{vill}群众接到冒充公检法电话",
            "{place}{vill}{n}名村民接到自称公安机关的电话，被要求将资金转入“安全账户”",
            "冒充公检法诈骗迷惑性强，易造成较大财产损失。",
        ),
        (
            "{co}财务人员遭遇冒充领导诈骗",
            "{place}{company}财务人员被拉入冒充公司负责人的聊天群，对方要求紧急转账",
            "企业面临大额资金被骗风险。",
        ),
        (
            "{estate}居民下载虚假投资APP",
            "{place}{estate}一名居民经网友推荐下载{app}投资，已投入{amount}且无法提现",
            "属于虚假投资理财诈骗，后续可能被诱导继续“充值”。",
        ),
        (
            "{vill}出租屋疑似藏有GOIP设备",
            "{place}{vill}一处出租屋内发现多台疑似GOIP设备和大量电话卡",
            "该类设备可被境外诈骗团伙用于远程拨打诈骗电话。",
        ),
        (
            "{estate}居民遭遇虚假网络贷款",
            "{place}{estate}一名居民在{app}申请贷款，被以“解冻费”为由要求转账{amount}",
            "属于虚假贷款诈骗，受害人急需用钱，易连续被骗。",
        ),
        (
            "{shop}收款码疑被出租",
            "{place}{addr}{shop}经营者将店铺收款码出租他人，短期内收款流水异常",
            "收款码可能被用于接收和转移诈骗资金。",
        ),
        (
            "{estate}居民遭遇冒充客服退款诈骗",
            "{place}{estate}一名居民接到自称电商客服的电话，被诱导开启屏幕共享",
            "屏幕共享可被用于窃取银行卡验证码，造成资金损失。",
        ),
        (
            "{vill}民房疑似被租用“跑分”",
            "{place}{vill}一处民房有外来人员频繁出入，疑似从事“跑分”洗钱活动",
            "涉诈资金流转窝点危害大，需尽快核查处置。",
        ),
        (
            "{school}学生遭遇游戏账号交易诈骗",
            "{place}{school}有学生在非官方平台买卖游戏账号，被以“账户冻结”为由要求转账{amount}",
            "未成年人防骗意识薄弱，易被诱导使用家长支付账户。",
        ),
        (
            "{estate}反诈预警对象劝阻未果",
            "{place}{estate}反诈预警对象{person}多次电话劝阻未接听，上门未见到本人",
            "预警对象可能正在被骗，存在资金损失风险。",
        ),
    ),
    "hazardous_chemicals": (
        (
            "{chem}储罐区可燃气体报警器失灵",
            "{place}{addr}{chem_company}储罐区{n}个可燃气体检测报警器失灵，未与DCS系统联动",
            "泄漏无法及时发现，存在火灾爆炸风险。",
        ),
        (
            "{chem}危化品仓库超量储存",
            "{place}{chem_company}甲类仓库储存量约{qty}，超过核定储量",
            "超量储存增大事故后果，一旦起火难以控制。",
        ),
        (
            "{chem}重大危险源监控视频离线",
            "{place}{chem_company}重大危险源在线监测视频离线超过{n}天，未按规定报告",
            "危险源状态无法实时掌握，预警失效。",
        ),
        (
            "{chem}禁忌物料混存",
            "{place}{chem_company}仓库内氧化剂与易燃液体混存，未按规定分区隔离",
            "禁忌物料接触可能发生剧烈反应，引发火灾爆炸。",
        ),
        (
            "{chem}装卸作业未连接静电接地",
            "{place}{chem_company}槽罐车装卸易燃液体时未连接静电接地装置",
            "静电积聚放电可能引燃可燃蒸气。",
        ),
        (
            "{chem}防爆区使用非防爆电器",
            "{place}{chem_company}甲类车间防爆区域内使用普通照明灯具和插座",
            "电火花可能引爆车间内可燃气体。",
        ),
        (
            "{chem}安全阀超期未校验",
            "{place}{chem_company}反应釜安全阀超过校验期{n}个月仍在使用",
            "超压时安全阀可能无法起跳，存在设备爆炸风险。",
        ),
        (
            "{vill}民房非法储存危化品",
            "{place}{vill}一处民房内非法储存溶剂油约{drums}",
            "居民区内储存易燃液体，一旦泄漏起火后果严重。",
        ),
        (
            "{chem}动火作业未办理审批",
            "{place}{chem_company}检修现场动火作业未办理动火作业票，未进行可燃气体分析",
            "动火点附近存在可燃物，易引发火灾爆炸。",
        ),
        (
            "{road}危化品运输车辆违规停放",
            "{place}{road}路边停放{n}辆满载危化品的槽罐车，无人看管",
            "车辆停放在人员密集区域，一旦泄漏危害严重。",
        ),
        (
            "{chem}反应釜联锁未投用",
            "{place}{chem_company}氯化反应釜温度、压力联锁装置处于旁路状态",
            "工艺失控时无法自动切断，存在飞温爆炸风险。",
        ),
        (
            "{chem}罐区围堰破损",
            "{place}{chem_company}储罐区围堰墙体开裂，雨水排放阀常开",
            "物料泄漏后无法有效收集，可能流入外环境。",
        ),
        (
            "{chem}危废仓库管理不规范",
            "{place}{chem_company}危废仓库标识不清，废溶剂敞口存放约{drums}",
            "挥发性气体积聚，存在中毒和火灾风险。",
        ),
        (
            "{station}油气回收装置故障",
            "{place}{road}{station}油气回收装置故障，卸油时油气味浓",
            "油气积聚遇明火易引发火灾爆炸。",
        ),
    ),
    "gas": (
        (
            "{eatery}燃气管道老化",
            "{place}{addr}{eatery}后厨燃气管道锈蚀严重，接口处有轻微异味",
            "燃气泄漏遇明火易引发爆炸。",
        ),
        (
            "{eatery}未安装燃气报警器",
            "{place}{addr}{eatery}使用管道天然气，但厨房未安装可燃气体报警器和自动切断阀",
            "燃气泄漏无法被及时发现和切断。",
        ),
        (
            "{eatery}液化气瓶紧靠灶具",
            "{place}{addr}{eatery}{n}只液化气钢瓶紧靠灶具摆放，间距不足一米",
            "钢瓶受热易泄漏，存在爆燃风险。",
        ),
        (
            "{eatery}使用超期液化气钢瓶",
            "{place}{addr}{eatery}使用的液化气钢瓶已超过检验期限，瓶身无追溯标签",
            "老旧钢瓶可能发生泄漏甚至爆裂。",
        ),
        (
            "{estate}{bldg}燃气立管锈蚀",
            "{place}{estate}{bldg}外墙燃气立管锈蚀明显，管卡支架松动",
            "管道腐蚀穿孔将造成燃气泄漏。",
        ),
        (
            "{estate}{bldg}燃气软管超期使用",
            "{place}{estate}{bldg}{n}户居民燃气软管老化开裂，已超过使用年限",
            "软管破裂是居民燃气事故的主要原因之一。",
        ),
        (
            "{road}燃气管道遭违章占压",
            "{place}{road}{no}号附近有临时建筑占压中压燃气管道",
            "管道无法巡检维护，一旦泄漏燃气易在建筑内积聚。",
        ),
        (
            "{eatery}燃气紧急切断阀失效",
            "{place}{addr}{eatery}厨房燃气紧急切断阀无法关闭，报警器已断电",
            "发生泄漏时无法切断气源。",
        ),
        (
            "{vill}发现“黑气瓶”非法充装点",
            "{place}{vill}一处仓库内存在非法倒灌液化气行为，存放钢瓶约{many}只",
            "非法充装无任何安全措施，极易发生泄漏爆炸。",
        ),
        (
            "{eatery}地下室违规使用液化气",
            "{place}{addr}{eatery}经营场所设在地下一层，仍在使用瓶装液化气",
            "液化气比空气重，泄漏后易在地下空间积聚引发爆炸。",
        ),
        (
            "{estate}{bldg}居民使用橡胶软管",
            "{place}{estate}{bldg}多户居民燃气灶具使用橡胶软管连接，未更换金属波纹管",
            "橡胶软管易老化、易被鼠咬，存在泄漏风险。",
        ),
        (
            "{market}液化气瓶存放在密闭隔间",
            "{place}{market}{n}户熟食摊位将液化气瓶存放在不通风的隔间内",
            "泄漏后燃气难以扩散，遇火花易爆燃。",
        ),
        (
            "{road}燃气调压箱防护缺失",
            "{place}{road}{no}号旁燃气调压箱防撞设施缺失，箱门损坏",
            "调压箱被车辆碰撞或人为破坏可能造成泄漏。",
        ),
        (
            "{estate}周边施工危及燃气管线",
            "{place}{estate}周边道路施工机械在燃气管线保护范围内作业，未与燃气企业对接",
            "施工挖破燃气管道将造成大面积泄漏和停气。",
        ),
    ),
    "construction": (
        (
            "{site}脚手架未设连墙件",
            "{place}{site}外墙落地式脚手架{n}处未按规定设置连墙件",
            "脚手架整体稳定性不足，有坍塌风险。",
        ),
        (
            "{site}深基坑无临边防护",
            "{place}{site}深约{depth}米的基坑边缘未设置防护栏杆和警示标志",
            "人员和车辆存在坠落风险。",
        ),
        (
            "{site}塔吊基础积水",
            "{place}{site}塔吊基础积水严重，标准节连接螺栓有松动",
            "塔吊基础承载力下降，存在倾覆风险。",
        ),
        (
            "{site}施工升降机防坠器超期",
            "{place}{site}施工升降机防坠安全器超过标定期限仍在使用",
            "吊笼坠落时防坠器可能失效。",
        ),
        (
            "{site}高支模未按方案搭设",
            "{place}{site}高大模板支撑体系立杆间距超过专项方案要求，扫地杆缺失",
            "混凝土浇筑时存在支模坍塌风险。",
        ),
        ("{site}临时用电一闸多机", "{place}{site}现场开关箱一闸控制多台设备，漏电保护器失效", "作业人员存在触电风险。"),
        (
            "{site}作业人员未戴安全帽",
            "{place}{site}{n}名作业人员高处作业时未佩戴安全帽、未系安全带",
            "存在物体打击和高处坠落风险。",
        ),
        ("{site}楼层洞口未设防护", "{place}{site}{floor}楼楼板预留洞口未设置盖板和防护栏", "人员可能从洞口坠落。"),
        (
            "{site}起重吊装无专人指挥",
            "{place}{site}起重吊装作业无信号指挥人员，吊物下方有人员通行",
            "吊物坠落可能造成人员伤亡。",
        ),
        (
            "{site}临街施工围挡倾斜",
            "{place}{road}{site}临街施工围挡约{length}米倾斜变形",
            "大风天气围挡倒塌可能砸伤行人和车辆。",
        ),
        (
            "{vill}农村自建房擅自加层",
            "{place}{vill}一处农村自建房在原有{stories}层基础上擅自加盖，未经设计",
            "房屋结构安全无法保证，存在坍塌风险。",
        ),
        (
            "{estate}{bldg}外墙吊篮安全锁失效",
            "{place}{estate}{bldg}外墙维修吊篮安全锁失效，安全绳未独立设置",
            "吊篮坠落可能造成作业人员伤亡。",
        ),
        (
            "{site}模板支架立杆悬空",
            "{place}{site}模板支架{n}根立杆底部悬空，未设置垫板",
            "支架受力不均可能局部失稳坍塌。",
        ),
        (
            "{site}现场消防器材配备不足",
            "{place}{site}木工加工区和材料堆场未配备灭火器材，现场有吸烟现象",
            "易燃材料集中，一旦起火难以扑救。",
        ),
    ),
    "campus": (
        (
            "{school}校门口护栏缺失",
            "{place}{road}{school}校门口两侧道路隔离护栏缺失，学生随意横穿",
            "上下学高峰学生存在被车辆碰撞风险。",
        ),
        (
            "{school}食堂食材留样不规范",
            "{place}{school}食堂未按规定对每餐食品留样，留样量不足、标签不全",
            "发生食物中毒时难以追溯原因。",
        ),
        (
            "{school}接送车辆超员",
            "{place}{school}一辆接送学生的车辆{plate}核载{seats}人，实际超员",
            "车辆超员一旦发生事故后果严重。",
        ),
        (
            "{school}实验室危化品管理不规范",
            "{place}{school}化学实验室浓硫酸等危险化学品未落实双人双锁，台账不全",
            "危化品可能被挪用或误用。",
        ),
        (
            "{school}围墙开裂倾斜",
            "{place}{school}操场一侧围墙约{wall}米出现裂缝并向外倾斜",
            "围墙倒塌可能伤及学生和行人。",
        ),
        (
            "{school}宿舍楼应急照明损坏",
            "{place}{school}学生宿舍楼{n}个楼层应急照明和疏散指示不亮",
            "夜间发生火灾时学生疏散困难。",
        ),
        (
            "{school}周边流动摊贩聚集",
            "{place}{road}{school}放学时段校门口流动摊贩聚集，售卖“三无”食品",
            "存在食品安全和交通安全双重隐患。",
        ),
        (
            "{school}体育器材锈蚀松动",
            "{place}{school}操场篮球架底座锈蚀松动，单杠固定螺栓缺失",
            "学生活动时器材倾倒可能造成伤害。",
        ),
        (
            "{school}门卫安保力量不足",
            "{place}{school}门卫仅一名保安值守且年龄偏大，防暴器材配备不全",
            "难以有效处置校园突发事件。",
        ),
        (
            "{school}一键报警装置故障",
            "{place}{school}门卫室一键报警装置与公安机关联网中断",
            "发生紧急情况时无法快速报警。",
        ),
        (
            "{school}周边网吧接纳未成年人",
            "{place}{addr}{netbar}距{school}不足二百米，多次发现接纳未成年人",
            "影响学生身心健康，易诱发治安问题。",
        ),
        ("{school}教学楼吊顶脱落", "{place}{school}教学楼屋面渗漏，走廊吊顶局部脱落", "吊顶坠落可能砸伤师生。"),
        (
            "{school}上下学时段交通无人疏导",
            "{place}{road}{school}上下学时段接送车辆乱停乱放，未设护学岗",
            "学生穿行车流存在交通事故风险。",
        ),
        (
            "{school}食堂从业人员健康证过期",
            "{place}{school}食堂{n}名从业人员健康证明已过期",
            "可能导致食源性疾病传播。",
        ),
        (
            "{kinder}走廊防护栏高度不足",
            "{place}{kinder}二楼走廊防护栏高度不足一米，栏杆间距过大",
            "幼儿可能攀爬或钻出坠落。",
        ),
    ),
    "food_drug": (
        (
            "{shop}过期食品上架销售",
            "{place}{addr}{shop}货架上有{n}种超过保质期的预包装食品仍在销售",
            "消费者食用后可能引发食源性疾病。",
        ),
        (
            "{eatery}未取得食品经营许可",
            "{place}{addr}{eatery}未取得食品经营许可证擅自经营",
            "经营条件和原料来源无法保障。",
        ),
        (
            "{eatery}后厨防鼠设施缺失",
            "{place}{addr}{eatery}后厨排水沟无防鼠网，现场发现鼠类活动痕迹",
            "鼠类污染食品可能传播疾病。",
        ),
        (
            "{pharmacy}处方药无处方销售",
            "{place}{addr}{pharmacy}在无处方情况下向顾客销售抗菌药物",
            "滥用抗菌药物危害用药安全。",
        ),
        (
            "{market}蔬菜农残快检超标",
            "{place}{market}快检室抽检{n}批次蔬菜，其中豇豆农药残留超标",
            "超标蔬菜流入餐桌可能危害消费者健康。",
        ),
        (
            "{eatery}餐具消毒不到位",
            "{place}{addr}{eatery}餐具消毒柜长期未使用，餐具清洗后直接摆台",
            "餐具污染易导致肠道疾病传播。",
        ),
        (
            "{shop}冷链食品无追溯信息",
            "{place}{addr}{shop}冷柜内进口冷冻肉品无法提供检验检疫证明和追溯信息",
            "来源不明的冷链食品存在安全风险。",
        ),
        (
            "{pharmacy}药品储存温度不达标",
            "{place}{pharmacy}阴凉区实测温度超过规定要求，温湿度记录缺失",
            "药品质量可能受影响而失效。",
        ),
        (
            "{vill}小作坊无证生产糕点",
            "{place}{vill}一处民房内有人无证生产糕点并向周边超市供货",
            "生产环境卫生条件差，食品安全无法保障。",
        ),
        (
            "{eatery}从业人员无健康证明",
            "{place}{addr}{eatery}{n}名厨师和服务员未取得健康证明",
            "可能导致传染性疾病通过食品传播。",
        ),
        (
            "{shop}销售“三无”食品",
            "{place}{addr}{shop}销售无生产厂家、无生产日期、无合格证明的散装零食",
            "产品来源不明，存在质量安全风险。",
        ),
        (
            "{canteen}生熟食品混放",
            "{place}{canteen}冷藏柜内生熟食品混放，刀具砧板未分开使用",
            "交叉污染可能引发群体性食物中毒。",
        ),
        (
            "{shop}保健食品虚假宣传",
            "{place}{addr}{shop}以“包治百病”为噱头向老年人推销保健食品",
            "误导消费者延误治疗，并造成经济损失。",
        ),
        (
            "{eatery}使用过期食品原料",
            "{place}{addr}{eatery}后厨发现{n}种过期调味品和食用油",
            "使用过期原料加工食品危害就餐者健康。",
        ),
        (
            "{market}活禽交易不规范",
            "{place}{market}活禽摊位未落实休市消毒，宰杀区与销售区未隔离",
            "存在禽流感等疫病传播风险。",
        ),
    ),
    "other": (
        (
            "{estate}{bldg}外墙瓷砖脱落",
            "{place}{estate}{bldg}外墙瓷砖多处空鼓脱落，楼下为人行通道",
            "高空坠物可能砸伤行人。",
        ),
        ("{road}户外广告牌松动", "{place}{road}{no}号楼顶户外广告牌支架锈蚀松动", "大风天气广告牌坠落危及行人车辆。"),
        ("{river}沿岸护栏破损", "{place}{river}沿岸步道护栏约{length}米破损缺失", "夜间行人可能失足落水。"),
        (
            "{estate}{bldg}电梯频繁困人",
            "{place}{estate}{bldg}电梯近一个月困人{n}次，维保记录不全",
            "电梯带病运行存在人身伤害风险。",
        ),
        (
            "{vill}山塘坝体渗漏",
            "{place}{vill}一座山塘坝体下游出现渗水，溢洪道堵塞",
            "汛期可能发生溃坝，威胁下游村民安全。",
        ),
        ("{road}窨井盖缺失", "{place}{road}{no}号门前人行道窨井盖缺失，仅用杂物遮挡", "行人和非机动车可能跌落受伤。"),
        (
            "{vill}地质灾害点边坡开裂",
            "{place}{vill}后山边坡出现长约{crack}米裂缝，坡脚有民房{n}户",
            "强降雨时可能发生滑坡，危及坡下居民。",
        ),
        (
            "{estate}商业楼玻璃幕墙破损",
            "{place}{estate}配套商业楼{floor}楼玻璃幕墙出现裂纹",
            "玻璃碎片坠落可能伤及行人。",
        ),
        (
            "{road}行道树倾斜",
            "{place}{road}{no}号附近一棵行道树根部松动，明显向车道倾斜",
            "台风或大风天气树木倒伏可能砸伤行人车辆。",
        ),
        (
            "{river}野泳水域缺少警示",
            "{place}{river}{vill}段常有人员野泳，未设置警示牌和救生设施",
            "夏季溺水事故风险高。",
        ),
        (
            "{estate}地下车库挡水设施缺失",
            "{place}{estate}地下车库出入口未设挡水设施，排水泵故障",
            "强降雨时车库进水，可能危及人员和车辆。",
        ),
        ("{market}沿街店招安装不牢", "{place}{market}沿街{n}块店招支架锈蚀，固定螺栓缺失", "店招坠落可能砸伤行人。"),
        ("{vill}危旧房仍有人居住", "{place}{vill}一处C级危房仍有{n}名老人居住", "房屋结构老化，雨雪天气存在倒塌风险。"),
        (
            "{vill}废弃厂房无人看管",
            "{place}{vill}一处废弃厂房围墙倒塌，常有儿童进入玩耍",
            "厂房内残留设备和坑洞可能造成意外伤害。",
        ),
    ),
}

_INTROS = ("", "", "", "现场检查发现，", "巡查中发现，", "经排查，", "经现场核实，")
_AFTERWORDS = (
    "现场已拍照留存。",
    "周边群众较多，需尽快处置。",
    "该问题近期已被多次反映。",
    "请责任单位尽快核实处置。",
    "已通知所在村（社区）网格员跟踪。",
)


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

_CAMPAIGN_THEMES: dict[str, tuple[str, ...]] = {
    "safety_production": (
        "工贸企业安全生产专项整治",
        "有限空间作业安全专项整治",
        "粉尘涉爆企业安全专项整治",
        "出租厂房安全生产专项整治",
        "安全生产治本攻坚行动",
    ),
    "road_traffic": (
        "道路交通安全专项整治",
        "农村道路交通安全隐患排查整治",
        "货车超限超载专项治理",
        "电动自行车交通违法专项整治",
        "“两客一危”车辆安全专项整治",
    ),
    "fire": (
        "电动自行车消防安全专项整治",
        "高层建筑消防安全专项整治",
        "“九小场所”消防安全专项整治",
        "冬春火灾防控专项行动",
        "“三合一”场所消防安全专项整治",
    ),
    "telecom_fraud": (
        "打击治理电信网络诈骗专项行动",
        "“断卡”行动集中排查",
        "涉诈风险人员排查整治",
        "反诈宣传防范专项行动",
    ),
    "hazardous_chemicals": (
        "危险化学品安全专项整治",
        "危化品运输安全专项整治",
        "化工园区安全风险排查整治",
        "重大危险源安全专项检查",
    ),
    "gas": (
        "城镇燃气安全专项整治",
        "餐饮场所燃气安全专项整治",
        "瓶装液化气安全专项整治",
        "老旧燃气管网隐患排查整治",
    ),
    "construction": (
        "建筑施工安全专项整治",
        "危大工程安全专项整治",
        "自建房安全专项整治",
        "建筑起重机械安全专项检查",
    ),
    "campus": (
        "校园安全专项整治",
        "校园周边环境综合整治",
        "校园食品安全专项检查",
    ),
    "food_drug": (
        "食品安全专项整治",
        "药品安全专项整治",
        "农村食品安全专项整治",
        "冷链食品安全专项检查",
    ),
    "other": (
        "城市运行安全隐患排查整治",
        "防汛防台风险隐患排查",
        "人员密集场所安全专项整治",
        "地质灾害隐患排查整治",
    ),
}


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

# Common surnames, with some typical of Shaoxing (俞, 楼, 寿, 裘, 斯, 宣, 茹, 竺, 郦, 骆) weighted in.
_SURNAMES = _words(
    "王 王 王 陈 陈 陈 张 张 李 李 刘 杨 黄 赵 吴 周 周 徐 徐 孙 朱 胡 胡 郭 何 高 林 郑 谢 宋 "
    "沈 沈 金 金 钱 俞 俞 楼 寿 裘 斯 宣 茹 竺 郦 骆 蒋 蔡 叶 丁 魏 吕 章 马 梁 范 潘 姚 邵 董 "
    "冯 袁 许 方 汪 姜 傅 屠 单 严 韩 曹 任 施 陆 毛 顾 孔 邱"
)
_GIVEN_MALE = _words(
    "伟 强 磊 军 洋 勇 杰 涛 明 超 刚 平 华 建 国 文 辉 斌 鹏 波 飞 亮 俊 浩 宇 轩 海 峰 林 立 "
    "新 志 永 德 宏 卫 东 航 凯 健 昊 睿 博 铭 韬 杭 晨 越 栋 锋 鑫 达 成 江 荣"
)
_GIVEN_FEMALE = _words(
    "芳 娜 敏 静 丽 艳 娟 秀 霞 英 玲 红 燕 萍 欣 怡 婷 琳 雪 佳 晓 丹 春 梅 兰 晶 颖 蕾 璐 嘉 "
    "瑶 婧 倩 瑜 琪 萱 慧 娅 莉 洁 露 月 云 莹 菲"
)


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

_EXTENSION_GENERIC = (
    "整改涉及资金较多，需履行政府采购程序。",
    "需协调多个部门联合处置，无法在期限内完成。",
    "近期持续降雨，室外整改作业无法开展。",
    "整改方案需经专家论证后方可实施。",
    "涉及产权人较多，协调难度大，需延长整改时间。",
    "施工队伍受节假日影响尚未进场，申请顺延。",
)
_EXTENSION_BY_FIELD: dict[str, tuple[str, ...]] = {
    "safety_production": ("需停产更换防护设备，设备订货周期较长。", "除尘系统改造需委托有资质单位设计施工。"),
    "road_traffic": ("信号灯改造需重新配时并联网调试。", "护栏和标志设置需办理道路占用审批。"),
    "fire": ("消防设施维修需专业维保单位入场，排期较满。", "喷淋管网改造需停水施工并提前通知住户。"),
    "telecom_fraud": ("涉及外地人员，需协调异地公安协查。", "需银行配合调取交易流水，周期较长。"),
    "hazardous_chemicals": ("安全阀需送检，检验机构排期较长。", "联锁改造需结合停车检修实施。"),
    "gas": ("燃气管道更换需燃气企业排期停气施工。", "入户改造需征得业主委员会和住户同意。"),
    "construction": ("需重新编制专项施工方案并组织论证。", "需待混凝土养护期满后拆改支撑。"),
    "campus": ("围墙改造需利用假期施工，避免影响教学。", "校门口护栏需与交警部门共同设计。"),
    "food_drug": ("需等待检验机构出具复检报告。", "经营者正在重新申请许可证，审批尚在办理中。"),
    "other": ("需待汛期结束后实施工程加固。", "维修资金需协调产权单位共同筹集。"),
}

_RETURN_GENERIC = (
    "整改不到位，现场仍存在同类问题。",
    "未提供整改前后对比照片，佐证材料不全。",
    "整改措施仅为临时处置，未从根本上消除隐患。",
    "复查发现隐患反弹，问题再次出现。",
    "整改报告与现场情况不符。",
    "未建立长效管理措施，需补充完善。",
)
_RETURN_BY_FIELD: dict[str, tuple[str, ...]] = {
    "safety_production": ("防护装置虽已安装但未投入使用。", "培训记录为补写，未实际组织培训。"),
    "road_traffic": ("警示标志设置位置不符合规范要求。", "信号灯修复后仍有灯组间歇性不亮。"),
    "fire": ("消防通道仍有车辆停放。", "灭火器已更换但未设置在明显位置。", "楼道内仍有电动自行车停放充电。"),
    "telecom_fraud": ("未对涉事人员完成见面劝阻。", "涉诈线索核查结果未形成书面材料。"),
    "hazardous_chemicals": ("报警器已更换但未与控制系统联动。", "禁忌物料仍未按规定分区存放。"),
    "gas": ("报警器已安装但未接通电源。", "仍有部分住户未更换软管。"),
    "construction": ("连墙件数量仍不满足方案要求。", "临边防护栏杆高度不足。"),
    "campus": ("护栏仅为临时隔离设施。", "食堂留样记录仍不完整。"),
    "food_drug": ("下架商品未作销毁处理，仍存放在店内。", "从业人员健康证明仍未补齐。"),
    "other": ("加固措施未经专业单位验收。", "警示牌设置数量不足。"),
}

_RECTIFICATION_GENERIC = (
    "已按要求完成整改，并组织自查。",
    "已落实整改措施，建立隐患整改台账。",
    "已完成整改并加强日常巡查，防止问题反弹。",
)
_RECTIFICATION_BY_FIELD: dict[str, tuple[str, ...]] = {
    "safety_production": (
        "已恢复安全防护装置并对操作人员开展专题培训。",
        "已清理车间通道和安全出口，划定物料堆放区域。",
        "已完成设备检验，特种作业人员全部持证上岗。",
        "已建立隐患排查治理台账，落实每日班前检查。",
    ),
    "road_traffic": (
        "已修复信号灯并完成配时调试。",
        "已增设急弯警示标志和减速标线。",
        "已完成路面坑槽修补并恢复通行。",
        "已补设隔离护栏，安排人员路口劝导。",
    ),
    "fire": (
        "已清理通道内杂物并施划禁停标线，物业每日巡查。",
        "已更换过期灭火器并建立月度检查记录。",
        "已增设电动自行车集中充电设施，劝离楼道停放车辆。",
        "已委托维保单位修复消防设施，系统恢复正常。",
    ),
    "telecom_fraud": (
        "已对涉事群众上门见面劝阻，开展反诈宣传。",
        "已将涉诈线索移交公安机关，相关电话卡已停机。",
        "已组织辖区居民开展反诈宣传，登记风险人员。",
    ),
    "hazardous_chemicals": (
        "已更换可燃气体报警器并完成联动测试。",
        "已将禁忌物料分区存放，设置隔离标识。",
        "已完成安全阀校验，联锁装置恢复投用。",
        "已清理超量储存物料，按核定储量管理。",
    ),
    "gas": (
        "已安装可燃气体报警器和自动切断阀，经燃气企业验收。",
        "已更换老化管道和软管，改用金属波纹管。",
        "已将液化气瓶移至独立通风的气瓶间存放。",
        "已拆除违章占压建筑，恢复管线保护范围。",
    ),
    "construction": (
        "已按方案补设连墙件，经监理单位复查合格。",
        "已设置基坑临边防护栏杆和警示标志。",
        "已更换漏电保护器，落实一机一闸一漏一箱。",
        "已对作业人员开展安全教育，落实安全帽佩戴检查。",
    ),
    "campus": (
        "已补设校门口隔离护栏，设置护学岗。",
        "已规范食堂留样，配备专用留样冰箱。",
        "已完成围墙加固，设置警示标识。",
        "已修复一键报警装置，恢复与公安联网。",
    ),
    "food_drug": (
        "已将过期食品下架销毁，建立进货查验记录。",
        "已完善防鼠设施，委托专业机构开展消杀。",
        "已责令停止销售，督促经营者规范处方药管理。",
        "从业人员已全部取得健康证明。",
    ),
    "other": (
        "已拆除松动构件并设置安全警戒区。",
        "已修复护栏，增设警示牌和救生设施。",
        "已完成加固维修，经专业单位检测合格。",
        "已组织人员转移，落实专人看护。",
    ),
}

_VERIFICATION_NOTES = (
    "经现场核查，隐患已整改到位，同意销号。",
    "复查确认整改措施已落实，佐证材料齐全，予以销号。",
    "已对照整改清单逐项核实，整改完成。",
    "现场复核整改到位，已建立长效管理机制，同意销号。",
    "经与责任单位共同复查，隐患已消除。",
    "整改情况与报送材料一致，核查通过。",
    "经网格员回访，现场未发现问题反弹，同意销号。",
)

_INVALID_REASONS = (
    "经现场核实，反映情况不属实。",
    "与已上报隐患重复，已合并处理。",
    "重复上报，同一地点同一问题已在办理中。",
    "经核查，问题已于上报前整改完毕。",
    "反映地址有误，现场未发现相关问题。",
    "不属于风险隐患范畴，已转相关部门按诉求处理。",
    "上报信息不全且无法联系上报人，现场未发现问题。",
)

_REASSIGN_REASONS = (
    "经核实，该隐患位于相邻街道辖区，申请转办。",
    "隐患涉及行业监管职责，应由行业主管部门牵头处置。",
    "责任主体为市属单位，不属于本单位管辖范围。",
    "该道路由公路部门管养，申请转交相关部门处置。",
    "问题涉及燃气管网，应由燃气主管部门牵头处置。",
    "隐患所在地块已移交开发区管理，申请转办。",
    "经现场勘查，隐患属于消防监管范畴，申请转办。",
)


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
