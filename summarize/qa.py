"""Translation QA: cheap checks on one translated segment that point a human at likely failures.

Checks (the names are part of the output contract):

* ``empty``: the output is blank while the source is not.
* ``untranslated``: the output equals the source (ignoring case and whitespace) although
  the source has real words (not only numbers, URLs, acronyms, one name or glossary terms).
* ``wrong_script``: Korean output whose letters are mostly not Hangul, Chinese output whose
  letters are mostly not Han, or Chinese output with Traditional-only characters. Markup and
  capitalised Latin words copied from the source (names, brands) are not counted.
* ``repetition``: a generation loop: a 1-6 character unit repeated 4+ times in a row, or a
  longer unit (7-40 characters, e.g. a word n-gram or a Chinese clause) 3+ times.
* ``length_ratio``: output/source length (non-space characters, markup removed) outside
  the bounds for the language; sources under 20 characters are not judged.
* ``number_mismatch``: a number in the source is missing from the output. Numbers are not
  masked before translation (see ``summarize.protect``), so this is where they are verified.
  Skipped: integers up to 10 (often written as words) and numbers followed by a scale word
  ("1.2 million" becomes "120만" / "120万").
* ``span_lost`` / ``span_duplicated`` / ``span_repaired``: what ``restore()`` had to fix.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .glossary import Glossary
from .protect import SpanIssue, markup_spans

CHECKS = (
    "empty", "untranslated", "wrong_script", "repetition", "length_ratio", "number_mismatch",
    "span_lost", "span_duplicated", "span_repaired",
)
LANGS = ("ko", "zh-Hans")

# Non-space characters of output per non-space character of English source. Calibrated on
# news sentences: ko is typically 0.3-0.55, zh-Hans 0.3-0.45; the bounds catch truncated
# output (a third of the usual) and run-away output (over twice the usual).
LENGTH_BOUNDS = {"ko": (0.15, 1.1), "zh-Hans": (0.12, 0.9)}
MIN_RATIO_SOURCE = 20
MIN_SCRIPT_SHARE = 0.5

# Traditional-only characters: each has a different Simplified form and is not in GB2312,
# so it does not occur in Simplified text (tests check both properties).
TRADITIONAL_ONLY = frozenset(
    "這們國會對說時來與為發經過還點體關學開問題動現實長當應間從區個裡頭種樣幾見認識讓"
    "話請謝語讀寫聽買賣錢車門馬魚鳥東亞兒兩內產華萬億價優傳傷備僅側倫倉偉層嚴團圍圖園"
    "場壓夠夢奪奮媽孫寧將專尋屆屬島歲帶師幣廣廳張彈徑復態戰戶擁擇擊擔據擴擺數斷條極構"
    "槍歐殺氣決沒淚滅漢濟潔灣無熱燈營爭爾牆獨獎環畫療盡監盤確禮稅穩筆節範簡糧紀約紅納"
    "純級細終組結給統絕綠維網緊線練總績續義習聖聯聲職腦臉興舉舊藝蘭處號術衛補裝製複視"
    "親覺觀規計訂記許設訪評證試詩該詳誤誠課誰調談論諸講議護變豐豬貓負財責貨貧購貴費貿"
    "資賽質趕趨跡農遠選遺邊鄉醫釋針鋼錄錯鎮鏡鐘鐵銀銷閉閱聞闊陳陽際險隊隨隱難雙雜雖電"
    "靈靜響頁項順須預領頻類顧顯願風飛飯飲館驗騎驚鮮鳴雞黃黨齊齒龍龜劇劃劉則剛創勞勢勝"
    "務勵勸協卻參員單嗎壞壽夾奧婦寶審導幫庫廠廢彎徹恥惡悅愛慣慘憂憶懷戲戀擋擠敗敵晉暫"
    "曆曉書棄楊榮樂標樓機檢權歡歷歸殘殼漁澤濕滯災煙燒爐牽犧狀獄獵瑪畢異瘋盜眾睜碼礦祕"
    "禍禪稱穀窮竊競糾紙紛絲緒緣編縣織繩繪繫纖罰羅羨聰肅脅脫腳膚臟臨艙艦莊葉蓋蔣薦薩蘇"
    "蘋虛蟲蠶衝襲覽觸訊訓託訟訴診証詞詢詭誇誌誕諒諾謀謂謙謠謹譜譯譽讚貝貞貢販貪貫貯貸"
    "貼賀賊賓賜賞賠賢賤賦賭賴贈贊趙踐軌軍軒軟軸較載輔輕輛輝輩輪輯輸轉轟辦辭迴連週進遊"
    "運達違遙遞適遲遷遼邁郵鄭鄰醜釣鈴鉛銅銳鋒鋪錦錫鍵鍋鍾鎖鏈鑰閃閒閘閣閥闆闖闡陣陰陸"
    "雛離雲霧韓頂頌頑頒頓頰頸顆額顏顫飄飢飼飽飾餅養餘饋饑馭馱馳馴駁駐駕駛駭騙騰驅驕髮"
    "鬆鬥鬧鬱魯鯨鳳鴨鴻鵝鵬鶴鷹鹽麗麥麼齋齡龐倆債傾僑儀償儲兇兌冊凍凱劍劑勁勻匯匱厲厭"
    "叢吳呂啟喪喚喬嗆嘆嘗噴嚇嚨囑圓墳墜墮壇壘壯壺妝婁嫵嬌寢寵屍屜岡峽崗嶺嶼巔幟幹廁廂"
    "廈廚廟廬弔強彌彥憑憐憤憲懇懶懸拋挾捨捲掃掛採揀揚換揮損搖搗搶摑摟摯摳摻撈撐撓撥撫"
    "撲擄擬擯擰擱擲擾攆攏攔攙攜攝攢攣攤攪敘斂斃斕斬晝暈暉暢曄曇曖曠曬朧柵桿梟棖棗棟棧"
    "棲楓楨業槓槧槨樁樅樑樞樸樹樺橋橢橫檔檣檯檸檻櫃櫓櫚櫛櫝櫥櫧櫨櫪櫬櫸欄欒欖歎歟歿殞"
    "殤殫殮殯殲毀毆氈氌氫氬氳沖況洩浹涇涼淥淪淵淶淺渙減渦測渾湊湞湯溈準溝溫滄滌滎滬滲"
    "滷滸滾滿漚漣漬漲漸漿潁潑潛潤潯潰澀澆澇澗澠澩澮澱濁濃濘濤濫濰濱濺濾瀅瀉瀋瀏瀕瀘瀝"
    "瀟瀠瀦瀧瀨瀰瀲瀾灃灄灑灘灝灤烏烴煉煒煢煥煩煬熗熾燁燉燙燜燦燭燴燼燾爍爛爺牘犖犢狹"
    "狽猙猶猻獅獪獰獲獷獸獺獻獼玀琺琿瑋瑣瑤瑩瑲璉璣璦璫璽瓊瓏瓔瓚甌畝疇疊痙瘍瘓瘞瘡瘧"
    "癆癇癉癘癟癡癢癤癥癩癬癭癮癰癱癲皚皰皺盃盞盧眥睏睞瞜瞞瞼矓矚矯硃硜硤硨硯碩碭磚磣"
    "磧磯磽礎礙礪礫礬祿禎禦禰禱禿秈稈稟穌積穎穢穫窩窪窯窶窺竄竅竇筍筧箋箏築篋篤篩簀簍"
    "簞簣簫簷簽簾籃籌籙籜籟籠籤籩籪籬籮粵糝糞糰糲糴糶紂紆紈紉紋紐紓紗紜紡紮紱紲紳紹紺"
    "紼紿絀絆絎絛絞絡絢絨絳絹綁綃綆綈綏綜綞綢綣綬綯綰綱綴綵綸綹綺綻綽綾綿緄緇緋緗緘緙"
    "緝緞締緡緦緩緬緯緱緲緶緹緻縈縉縊縋縐縑縛縝縞縟縫縭縮縱縲縳縴縵縶縷縹繃繅繆繒繕繚"
    "繞繡繢繭繯繰繳繹繼繽繾纈纊纍纏纓纘纜缽罈罌罵罷羆羈羋羥翹耬聳聵聶聹聾脈脛脹腎腡腫"
    "腸膃膠膩膽膾膿臍臏臘臚臠臺艤艫艱艷芻苧茲荊莖莢莧萇萊萵葒葦葯葷蒔蒞蒼蓀蓮蓯蓴蓽蔔"
    "蔞蔥蔦蔭蕁蕆蕎蕓蕕蕘蕢蕩蕪蕭蕷薀薈薊薌薑薔薘薟薴薺藍藎藥藪藶藹藺蘄蘆蘊蘚蘞蘢蘺蘿"
    "虆虜虧虯蛺蛻蜆蝕蝟蝦蝸螄螞螢螻螿蟄蟈蟣蟬蟯蟶蟻蠅蠆蠐蠑蠔蠟蠣蠨蠱蠻衊衕衚袞裊褲褳"
    "褸褻襏襖襝襠襤襪襯覓覘覡覦覬覯覲覷覿觴觶訃訌討訐訒訕訖訛訝訢訣訥訶註詁詆詎詐詒詔"
    "詖詗詘詛詠詡詣詫詬詮詰詵詼詿誄誅誆誑誒誘誚誡誣誥誦誨誶誹誼諂諄諉諍諏諑諗諛諜諝諞"
    "諢諤諦諧諫諭諮諱諳諶諷諺諼謁謄謅謊謎謐謔謖謗謚謨謫謬謳謾譁譎譏譖譙譚譫譴讎讒讕讖"
    "讜讞豈豎豔貍貰貲貳貶貺貽賁賂賃賄賅賈賑賒賕賚賡賧賬賵賺賻賾贄贅贍贏贐贓贖贗贛趲踴"
    "蹌蹕蹣蹤蹺躂躉躊躋躍躑躒躓躕躚躡躥躦躪軀軋軔軛軫軹軺軻軼軾輅輇輈輊輒輓輜輞輟輥輦"
    "輳輻輾輿轀轂轄轅轆轍轎轔轡轢轤辮辯逕遜邇邏邐郟鄆鄒鄔鄖鄧鄲鄴鄶鄺酈醞醬醱釀釁釃釅"
    "釓釔釕釗釘釙釤釧釩釬釵釷釹鈀鈁鈃鈄鈉鈍鈐鈑鈔鈕鈞鈣鈥鈦鈧鈮鈰鈳鈷鈸鈹鈺鈽鈾鈿鉀鉅"
    "鉈鉉鉋鉍鉑鉗鉚鉞鉤鉦鉬鉭鉸鉺鉻鉿銃銑銓銖銘銚銛銜銠銣銥銦銨銩銪銫銬銻銼鋁鋃鋅鋇鋌"
    "鋏鋤鋨鋰鋸錐錘錚錠錨錮錳錶鍊鍍鍛鍥鍶鎂鎊鎔鎘鎢鎧鏍鏗鏘鏜鏟鏢鏤鐐鐙鐫鐮鐲鐺鐿鑄鑑"
    "鑒鑣鑭鑲鑷鑼鑽鑾鑿閂閆閎閏閑閔閡閤閨閩閫閬閭閶閹閻閼閽閾闈闋闌闍闐闓闔闕闞闢闥陘"
    "陝隉階隕隴隸隻雋霽靂靄靚靦靨鞀鞏鞝韁韃韉韋韌韙韜韞韻頃頇頊頎頏頗頜頡頤頦頷頹顎顓"
    "顙顛顥顰顱顳顴颯颱颳颶颺颼飀飆飩飪飫飭飴餃餉餌餑餒餓餚餛餞餡餱餳餵餺餼餾餿饃饅饈"
    "饉饌饒饗饜饞馮駑駒駔駘駙駝駟駢駰駱駿騁騅騍騏騖騫騶騷騾驀驁驂驃驄驊驍驏驛驟驢驤驥"
    "驪骯髏髒髕髖鬍鬚鬢鬨鬩鬮魎魘魷鮐鮑鮒鮚鮪鮫鮭鯀鯁鯇鯉鯊鯔鯖鯗鯛鯡鯢鯤鯧鯪鯫鯰鯽鰈"
    "鰍鰓鰣鰥鰩鰭鰱鰲鰳鰻鰾鱈鱉鱒鱔鱗鱘鱟鱧鱭鱷鱸鱺鳩鳶鴆鴇鴉鴒鴕鴛鴝鴞鴟鴣鴦鴯鴰鴿鵂"
    "鵑鵒鵓鵜鵠鵡鵪鵯鵲鶇鶉鶘鶚鶩鶯鶻鶿鷂鷓鷗鷙鷥鷦鷯鷲鷸鷺鸕鸚鸛鸝鸞鹵鹹鹼麩黌黲黴黷"
    "黽黿鼇鼉鼕齏齔齙齜齟齠齣齦齪齬齲齶齷龔龕"
)


@dataclass(frozen=True)
class QAFlag:
    check: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "detail": self.detail}


def check_segment(
    source: str,
    output: str,
    lang: str,
    *,
    issues: Sequence[SpanIssue] = (),
    glossary: Glossary | None = None,
) -> list[QAFlag]:
    """All QA flags for one translated segment (``source`` in English, ``output`` in ``lang``)."""
    if lang not in LANGS:
        raise ValueError(f"no QA checks for language {lang!r} (known: {', '.join(LANGS)})")
    if not output.strip():
        return [QAFlag("empty", "the output is empty")] if source.strip() else []
    flags = [
        *_untranslated(source, output, glossary),
        *_wrong_script(source, output, lang),
        *_repetition(output),
        *_length_ratio(source, output, lang),
        *_numbers(source, output),
    ]
    flags += [QAFlag(f"span_{issue.kind}", issue.detail) for issue in issues]
    return flags


def summarize_flags(flags: Iterable[QAFlag]) -> dict[str, int]:
    """How many flags of each check, in the order of ``CHECKS``."""
    counts = Counter(flag.check for flag in flags)
    return {check: counts[check] for check in CHECKS if counts[check]}


def _without_markup(text: str) -> str:
    pieces, pos = [], 0
    for start, end, _ in markup_spans(text):
        pieces += [text[pos:start], " "]
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)


def _squash(text: str) -> str:
    return "".join(text.casefold().split())


_WORD = re.compile(r"[^\W\d_]{2,}")


def _untranslated(source: str, output: str, glossary: Glossary | None) -> list[QAFlag]:
    if _squash(source) != _squash(output):
        return []
    text = _without_markup(source)
    if glossary is not None:
        for start, end, _ in reversed(glossary.find(text)):
            text = text[:start] + " " + text[end:]
    words = [w for w in _WORD.findall(text) if not w.isupper()]
    # One capitalised word alone is a name or brand ("Reuters"), fine to keep as is.
    if len(words) >= 2 or any(w.islower() for w in words):
        return [QAFlag("untranslated", "the output is the source text unchanged")]
    return []


_LATIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[.&+-][A-Za-z0-9]+)*")


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f"


def _is_han(ch: str) -> bool:
    return (
        "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"
        or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0002ffff"
    )


def _wrong_script(source: str, output: str, lang: str) -> list[QAFlag]:
    text = _without_markup(output)
    source_words = set(_LATIN_NAME.findall(source))

    def copied_name(m: re.Match[str]) -> str:
        word = m.group()
        is_name = word in source_words and (word != word.lower() or any(c.isdigit() for c in word))
        return " " if is_name else word

    letters = [c for c in _LATIN_NAME.sub(copied_name, text) if c.isalpha()]
    flags = []
    if len(letters) >= 2:
        native, script = (_is_hangul, "Hangul") if lang == "ko" else (_is_han, "Han")
        share = sum(map(native, letters)) / len(letters)
        if share < MIN_SCRIPT_SHARE:
            flags.append(QAFlag("wrong_script", f"only {share:.0%} of the letters are {script}"))
    if lang == "zh-Hans":
        trad = sorted(set(output) & TRADITIONAL_ONLY, key=output.index)
        if trad:
            flags.append(QAFlag("wrong_script", f"Traditional characters: {' '.join(trad[:10])}"))
    return flags


_SHORT_LOOP = re.compile(r"(.{1,6}?)\1{3,}")
_LONG_LOOP = re.compile(r"(.{7,40}?)\1{2,}")


def _repetition(output: str) -> list[QAFlag]:
    text = " ".join(_without_markup(output).split())
    for pattern in (_SHORT_LOOP, _LONG_LOOP):
        for m in pattern.finditer(text):
            unit = m.group(1)
            if any(c.isalpha() for c in unit):
                times = len(m.group()) // len(unit)
                return [QAFlag("repetition", f"{unit.strip()!r} repeated {times} times in a row")]
    return []


def _length_ratio(source: str, output: str, lang: str) -> list[QAFlag]:
    src = len(_squash(_without_markup(source)))
    if src < MIN_RATIO_SOURCE:
        return []
    ratio = len(_squash(_without_markup(output))) / src
    low, high = LENGTH_BOUNDS[lang]
    if low <= ratio <= high:
        return []
    return [QAFlag("length_ratio", f"output/source length {ratio:.2f} is outside {low}-{high}")]


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SCALE = re.compile(r"\s*(?:thousand|million|billion|trillion|bn|mn|[mkb])\b", re.I)


def _value(number: str) -> Decimal | None:
    try:
        return Decimal(number.replace(",", "")).normalize()
    except InvalidOperation:
        return None


def _numbers(source: str, output: str) -> list[QAFlag]:
    src = unicodedata.normalize("NFKC", source)
    found = {_value(m.group()) for m in _NUMBER.finditer(unicodedata.normalize("NFKC", output))}
    missing = []
    for m in _NUMBER.finditer(src):
        number, value = m.group(), _value(m.group())
        if value is None or _SCALE.match(src, m.end()):
            continue
        small = value == value.to_integral_value() and value <= 10 and src[m.end():m.end() + 1] != "%"
        if not small and value not in found:
            missing.append(number)
    if not missing:
        return []
    return [QAFlag("number_mismatch", f"missing from the output: {', '.join(dict.fromkeys(missing))}")]
