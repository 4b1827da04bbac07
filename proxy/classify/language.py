"""Which language a prompt is written in, from its letters alone: pure, no model, no I/O.

URLs, code spans and code-ish tokens are dropped, then a regex scan per script family finds
the words. The script with the most letters wins; an Indian script wins over Latin from
about a fifth of the letters, because Indian users put English technical words into
native-script sentences ("मुझे Python में एक script लिखो" is Hindi). Devanagari is Hindi
unless Marathi function words outweigh Hindi ones. Latin is English unless enough
romanised Hindi words ("mujhe ek script likh do") or Spanish/French stopwords appear.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import repeat


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1; "und" when there is no text to judge
    script: str  # ISO 15924; "Zyyy" when none or unknown
    confidence: float  # 0..1
    romanised: bool  # an Indian language written in Latin letters


UNDETERMINED = Language("und", "Zyyy", 0.0, False)

# Each Indian block spans 128 code points on a 128 boundary, so `ord(c) >> 7` names it.
_DEVANAGARI = 0x0900 >> 7
_INDIAN: dict[int, tuple[str, str]] = {
    _DEVANAGARI: ("hi", "Deva"),
    0x0980 >> 7: ("bn", "Beng"),
    0x0A00 >> 7: ("pa", "Guru"),
    0x0A80 >> 7: ("gu", "Gujr"),
    0x0B00 >> 7: ("or", "Orya"),
    0x0B80 >> 7: ("ta", "Taml"),
    0x0C00 >> 7: ("te", "Telu"),
    0x0C80 >> 7: ("kn", "Knda"),
    0x0D00 >> 7: ("ml", "Mlym"),
}
# Letters and vowel signs of each block; offsets 0x64-0x6F (dandas, digits) are not letters.
# ZWJ/ZWNJ sit inside Indian words (Malayalam chillus, Hindi half forms), never first.
_LETTERS = {
    b: f"\\u{b << 7:04X}-\\u{(b << 7) + 0x63:04X}\\u{(b << 7) + 0x70:04X}-\\u{(b << 7) + 0x7F:04X}"
    for b in _INDIAN
}
_INDIAN_CLASS = "".join(_LETTERS.values())
# Two Indian scripts in one prompt are rare: one scan rules them out before any per-word work.
_INDIAN_ELSEWHERE = {
    b: re.compile("[" + "".join(v for o, v in _LETTERS.items() if o != b) + "]") for b in _INDIAN
}
_LATIN_CLASS = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff"
_INDIAN_WORDS = re.compile(f"[{_INDIAN_CLASS}][{_INDIAN_CLASS}\u200c\u200d]*")
_LATIN_WORDS = re.compile(f"[{_LATIN_CLASS}]+")
_OTHER_WORDS = re.compile(f"[^\\W\\d_{_LATIN_CLASS}{_INDIAN_CLASS}]+")

# A token holding one of these is a URL, a path, an identifier or an expression, not prose.
# One scan of the text says whether the (slower) token-by-token removal is needed at all.
_CODE_MARK = re.compile(r"[_=/\\{}<>`|@]")
_CODE_TOKEN = re.compile(
    r"(?<!\S)(?:www\.|(?:[^\s_=/\\{}<>`|@(]++|\((?!\)))*+(?:[_=/\\{}<>`|@]|\(\)))\S*"
)
_CODE_SPAN = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.DOTALL)

_INDIAN_MIN_SHARE = 0.2


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


# Devanagari: Hindi vs Marathi. Weight 0.5 for words both languages use, in different senses.
_HINDI_WORDS = dict.fromkeys(
    _words(
        "है हैं हूँ हूं था थी थे और मुझे मुझको मैं मेरा मेरी मेरे हम हमें हमारा हमारी हमारे तुम"
        " तुम्हें तुम्हारा आप आपका आपकी आपके क्या करो करें कीजिए करना करके किया कैसे कैसा कैसी"
        " नहीं यह वह ये वो में के से को लिखो लिखें बताओ बताइए बताएं दो दीजिए चाहिए लिए बनाओ"
        " दिखाओ समझाओ सुनाओ बोलो रहा रही रहे गया गई गए सकते सकता सकती कुछ भी अपना अपनी अपने"
        " इस उस इसे उसे इसका उसका कब कहाँ कहां क्यों कौन बहुत लेकिन साथ रहेगा होगा"
    ),
    1.0,
) | dict.fromkeys(_words("का की पर हो"), 0.5)
_MARATHI_WORDS = dict.fromkeys(
    _words(
        "आहे आहेत आहात आहोत आणि मला मी तुम्ही तुम्हाला आम्ही आम्हाला काय करा कसे कसा कशी कसं"
        " त्याचा त्याची त्याचे त्यांचा त्यांनी ह्या ह्याचा पाहिजे सांगा सांग लिहा लिहून द्या करून"
        " म्हणून साठी मध्ये माझा माझी माझे माझ्या तुमचा तुमची तुमचे तुमच्या आमचा आमची आमचे नको"
        " इथे तिथे कुठे केव्हा कोण कोणता कोणती कोणते काही खूप करत करतो असेल असे उद्या पण नाव"
        " पाणी गोष्ट बनवा दाखवा समजावून शकता शकतो शकते हवे हवंय झाले झाला झाली केले केला केली"
        " होईल जाईल येईल आपण आपले आपली"
    ),
    1.0,
) | dict.fromkeys(_words("नाही हे हा या"), 0.5)
# Marathi spellings Hindi almost never has: the retroflex ळ and the genitive "-च्या".
_MARATHI_SUBSTRINGS = ("ळ", "च्या")

# Romanised Hindi. Strong: frequent and never English. Weak: Hindi, rarely anything else.
# Clash: Hindi, but also an English (or Spanish/French) word, so they only add to other hits.
_ROMAN_STRONG = _words(
    "mujhe mujhko kya hai hain hoon karo karna kijiye likho batao bataiye chahiye nahi nahin"
    " nhi aap kaise kaisa kaisi bhai yeh mein kyun kyon kahan bahut bohot bahot matlab kuch"
    " kuchh aur bhi sakte sakta sakti raha rahi mera meri mere tumhe tumhara hamara samjhao"
    " sunao dikhao banao bolo"
)
_ROMAN_WEAK = _words(
    "ek ka ki ke ko wo woh likh likhna likhiye likhdo kar karke karte karta karti karein diya"
    " kiya liye sab sabhi koi kaun kitna kitni kitne kab abhi phir fir sirf acha accha achha"
    " theek thik zara jaldi wala wali wale tum apna apni apne isko usko iska uska iske uske"
    " iski uski inko unko isme usme yahan wahan agar lekin kyunki jaise tha thi hoga hogi gaya"
    " gayi gaye rahe dikha dikhana bana batana bata bataye samjha samajh suna bolna chalo"
    " dekho dekh bhejo bhej padho suno haan ji jo aaj kaam yaar dena dedo hu hun chal pata hota"
    " hoti hona kare dijiye kal naam mil milte namaste shukriya dhanyavad"
)
_ROMAN_CLASH = _words("do me par pe ye ya main us is hum se de na tu ho hindi karen log banana mat")
_ENGLISH = _words(
    "the a an is are was of to and in on for with this that it you i me my what how can"
    " please do be have from at by or not as your we"
)
_SPANISH = _words(
    "el la de que por para una cómo qué es en los las del con y un se mi su al está más lo"
    " como pero muy"
)
_FRENCH = _words(
    "le la les des est une pour que comment avec je vous du et au aux ce cette dans sur pas"
    " il qui nous mon ma ne à où très être ça de en un l qu j"
)

# One lookup per Latin word says which of the lists above it is on.
_STRONG, _WEAK, _CLASH, _EN, _ES, _FR = 1, 2, 4, 8, 16, 32
_LISTS = (
    (_ROMAN_STRONG, _STRONG),
    (_ROMAN_WEAK, _WEAK),
    (_ROMAN_CLASH, _CLASH),
    (_ENGLISH, _EN),
    (_SPANISH, _ES),
    (_FRENCH, _FR),
)
_LATIN_FLAGS = {
    word: sum(flag for words, flag in _LISTS if word in words)
    for word in frozenset().union(*(words for words, _ in _LISTS))
}


def of_request(hint: str | None, text: str) -> Language:
    """A request's language: an explicit `language` field (a transcription's) wins over
    what the text's letters say."""
    return Language(hint, "Zyyy", 1.0, False) if hint else detect(text)


def detect(text: str) -> Language:
    text = _prose(text)
    indian = _INDIAN_WORDS.findall(text)
    latin = _LATIN_WORDS.findall(text)
    latin_letters = sum(map(len, latin))
    indian_letters = sum(map(len, indian))
    total = indian_letters + latin_letters
    if indian:
        block, letters = _main_block(indian, text, indian_letters)
        share = letters / total
        word_share = len(indian) / (len(indian) + len(latin))
        # A lone native word quoted in an English sentence ("how do I say धन्यवाद") does not
        # make it Hindi; two or more make a fifth of the letters a fair bet (technical words
        # in English are expected), half of them a sure one. A second Indian script is doubt.
        if share >= 0.5 or (
            len(indian) >= 2 and (share >= _INDIAN_MIN_SHARE or word_share >= 0.25)
        ):
            confidence = min(1.0, 0.5 + share) * letters / indian_letters
            return _indian(block, indian, text, confidence)
    if not latin_letters:
        return UNDETERMINED
    # Prose is mostly letters; when Latin ones are few, see whether another script has more.
    if 2 * latin_letters < len(text):
        other = sum(map(len, _OTHER_WORDS.findall(text)))
        if other > latin_letters:
            return UNDETERMINED
        total += other
    return _latin(latin, latin_letters / total)


def _indian(block: int, words: list[str], text: str, confidence: float) -> Language:
    code, script = _INDIAN[block]
    if block == _DEVANAGARI:
        code, margin = _hindi_or_marathi(words, text)
        confidence *= margin
    return Language(code, script, round(confidence, 3), False)


def _prose(text: str) -> str:
    if "`" in text:
        text = _CODE_SPAN.sub(" ", text)
    if _CODE_MARK.search(text) or "()" in text or "www." in text:
        text = _CODE_TOKEN.sub(" ", text)
    return text


def _main_block(words: list[str], text: str, letters_in_all: int) -> tuple[int, int]:
    """The Indian block with the most letters, and its letter count."""
    block = ord(words[0][0]) >> 7
    if not _INDIAN_ELSEWHERE[block].search(text):
        return block, letters_in_all
    letters = dict.fromkeys(_INDIAN, 0)
    for word in words:
        letters[ord(word[0]) >> 7] += len(word)
    best = max(letters, key=letters.__getitem__)
    return best, letters[best]


def _hindi_or_marathi(words: list[str], text: str) -> tuple[str, float]:
    hindi = sum(map(_HINDI_WORDS.get, words, repeat(0.0)))
    marathi = sum(map(_MARATHI_WORDS.get, words, repeat(0.0)))
    marathi += sum(map(text.count, _MARATHI_SUBSTRINGS))
    code, winner = ("mr", marathi) if marathi > hindi else ("hi", hindi)
    # Laplace-smoothed share of the evidence: no markers at all is an even bet, 0.5.
    return code, (winner + 1.0) / (hindi + marathi + 2.0)


def _latin(words: list[str], share: float) -> Language:
    counts = Counter(" ".join(words).lower().split())
    hits = counts.keys() & _LATIN_FLAGS.keys()
    strong = native = clash = english = spanish = french = 0
    distinct = 0
    for word in hits:
        flags, n = _LATIN_FLAGS[word], counts[word]
        if flags & (_STRONG | _WEAK):
            native += n
            distinct += 1
            if flags & _STRONG:
                strong += n
        elif flags & _CLASH:
            clash += n
            distinct += 1
        if flags & _EN:
            english += n
        if flags & _ES:
            spanish += n
        if flags & _FR:
            french += n
    total = len(words)
    # A clash word ("do", "me") is half a hit, and never a hit on its own: "do this now".
    ratio = (native + 0.5 * clash) / total
    if strong >= 3 or (native and distinct >= 2 and ratio > 0.25):
        return Language("hi", "Latn", round(share * min(1.0, 0.5 + ratio), 3), True)
    for code, count, rival in (("es", spanish, french), ("fr", french, spanish)):
        if count >= 2 and count > rival and count > english and count / total >= 0.2:
            return _latin_language(code, share, count / total)
    return _latin_language("en", share, english / total)


def _latin_language(code: str, share: float, stopword_ratio: float) -> Language:
    # Stopwords are a third or more of ordinary prose; a list of nouns has none and is a guess.
    return Language(code, "Latn", round(share * min(1.0, 0.5 + stopword_ratio), 3), False)
