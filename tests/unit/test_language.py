"""Language and script of a prompt (issue 4): native scripts, Hindi vs Marathi, romanised
Hindi, English with Hindi-looking words, Spanish/French, nothing to judge, code and URLs."""

from __future__ import annotations

import pytest

from proxy.classify.language import UNDETERMINED, Language, detect

NATIVE = [
    ("hi", "Deva", "मुझे एक छोटी कहानी सुनाओ"),
    ("hi", "Deva", "आज दिल्ली का मौसम कैसा है?"),
    ("hi", "Deva", "यह कोड काम नहीं कर रहा है, क्या आप मदद कर सकते हैं?"),
    ("mr", "Deva", "मला एक छोटी गोष्ट सांगा"),
    ("mr", "Deva", "आज पुण्याचे हवामान कसे आहे?"),
    ("mr", "Deva", "हा कोड काम करत नाही, तुम्ही मदत करू शकता का?"),
    ("bn", "Beng", "আমাকে একটি ছোট গল্প শোনাও"),
    ("bn", "Beng", "আজ কলকাতার আবহাওয়া কেমন?"),
    ("bn", "Beng", "এই ছবিটা দেখে বলো এখানে কী আছে"),
    ("pa", "Guru", "ਮੈਨੂੰ ਇੱਕ ਛੋਟੀ ਕਹਾਣੀ ਸੁਣਾਓ"),
    ("pa", "Guru", "ਅੱਜ ਮੌਸਮ ਕਿਹੋ ਜਿਹਾ ਹੈ?"),
    ("gu", "Gujr", "મને એક નાની વાર્તા કહો"),
    ("gu", "Gujr", "આજે અમદાવાદમાં હવામાન કેવું છે?"),
    ("ta", "Taml", "எனக்கு ஒரு சிறிய கதை சொல்லுங்கள்"),
    ("ta", "Taml", "இன்று சென்னையில் வானிலை எப்படி இருக்கிறது?"),
    ("te", "Telu", "నాకు ఒక చిన్న కథ చెప్పండి"),
    ("te", "Telu", "ఈ రోజు హైదరాబాద్‌లో వాతావరణం ఎలా ఉంది?"),  # has a ZWNJ
    ("kn", "Knda", "ನನಗೆ ಒಂದು ಸಣ್ಣ ಕಥೆ ಹೇಳಿ"),
    ("kn", "Knda", "ಇಂದು ಬೆಂಗಳೂರಿನಲ್ಲಿ ಹವಾಮಾನ ಹೇಗಿದೆ?"),
    ("ml", "Mlym", "എനിക്ക് ഒരു ചെറിയ കഥ പറഞ്ഞു തരൂ"),
    ("ml", "Mlym", "ഇന്ന് കൊച്ചിയിൽ കാലാവസ്ഥ എങ്ങനെയുണ്ട്?"),  # chillu letters
    ("or", "Orya", "ମୋତେ ଗୋଟିଏ ଛୋଟ ଗପ କୁହ"),
]


@pytest.mark.parametrize(("code", "script", "text"), NATIVE)
def test_native_script(code: str, script: str, text: str) -> None:
    lang = detect(text)
    assert (lang.code, lang.script, lang.romanised) == (code, script, False)
    assert 0.0 < lang.confidence <= 1.0


@pytest.mark.parametrize(
    ("hindi", "marathi"),
    [
        ("मुझे पानी चाहिए", "मला पाणी पाहिजे"),
        ("आप कैसे हैं?", "तुम्ही कसे आहात?"),
        ("मेरा नाम राहुल है", "माझे नाव राहुल आहे"),
        ("कल मौसम कैसा रहेगा?", "उद्या हवामान कसे असेल?"),
        ("यह कोड काम नहीं कर रहा है", "हा कोड काम करत नाही"),
        ("मुझे एक कविता लिखकर दो", "मला एक कविता लिहून द्या"),
    ],
)
def test_hindi_and_marathi_pairs(hindi: str, marathi: str) -> None:
    assert (detect(hindi).code, detect(marathi).code) == ("hi", "mr")


@pytest.mark.parametrize("text", ["मला वेळ नाही", "त्याच्या घरी जायचे"])
def test_marathi_spellings_hindi_lacks(text: str) -> None:
    assert detect(text).code == "mr"


def test_devanagari_without_markers_is_hindi_with_doubt() -> None:
    lang = detect("नमस्ते")
    assert (lang.code, lang.script) == ("hi", "Deva")
    assert lang.confidence <= 0.5


@pytest.mark.parametrize(
    ("code", "script", "text"),
    [
        ("hi", "Deva", "मुझे Python में एक script लिखो"),
        ("hi", "Deva", "Python में FastAPI server with authentication बनाओ"),
        ("mr", "Deva", "मला Python मध्ये एक script लिहून द्या"),
        ("ta", "Taml", "இந்த Python code-ஐ explain பண்ணுங்க"),
        ("te", "Telu", "ఈ Python script ని run చేయండి"),
        ("bn", "Beng", "এই Excel file টা একটু check করে দাও"),
    ],
)
def test_native_script_with_english_technical_words(code: str, script: str, text: str) -> None:
    lang = detect(text)
    assert (lang.code, lang.script, lang.romanised) == (code, script, False)


def test_mostly_english_letters_lower_confidence() -> None:
    pure = detect("पायथन में सर्वर बनाओ")
    mixed = detect("Python में FastAPI server with authentication बनाओ")
    assert 0.0 < mixed.confidence < pure.confidence <= 1.0


def test_lone_native_word_in_english_sentence_is_english() -> None:
    assert detect("How do I say धन्यवाद in a formal email?").code == "en"


def test_two_indian_scripts_majority_wins_with_doubt() -> None:
    lang = detect("इसका अनुवाद करो: எனக்கு ஒரு சிறிய கதை சொல்லுங்கள்")
    assert lang.code == "ta"
    assert lang.confidence < 0.8


@pytest.mark.parametrize(
    "text",
    [
        "mujhe ek python script likh do",
        "yeh video kya dikha raha hai",
        "isko hindi mein bolo",
        "Mujhe Ek Python Script Likh Do",
        "Bhai mujhe ek achha sa resume template bana do",
        "aap kaise ho?",
        "kya aap batao ki yeh error kyun aa raha hai",
        "is photo mein kitne log hain",
    ],
)
def test_romanised_hindi(text: str) -> None:
    lang = detect(text)
    assert (lang.code, lang.script, lang.romanised) == ("hi", "Latn", True)
    assert 0.0 < lang.confidence <= 1.0


@pytest.mark.parametrize(
    "text",
    [
        "do this now",
        "I need a hi-res image",
        "write to me",
        "Is it me?",  # two clash words ("is", "me") and no other hit
        "Can you do me a favour and summarise this?",
        "Tell me about the main features of the new model",
        "Is there a log file I can check?",
        "koi fish pond design ideas",
        "Write a Python script that downloads a file and retries on failure",
    ],
)
def test_english_with_hindi_looking_words(text: str) -> None:
    lang = detect(text)
    assert (lang.code, lang.script, lang.romanised) == ("en", "Latn", False)


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("es", "¿Cómo puedo escribir una función en Python?"),
        ("es", "Necesito una lista de los mejores libros para aprender programación"),
        ("es", "Explícame qué es el aprendizaje automático"),
        ("fr", "Comment est-ce que je peux écrire une fonction en Python ?"),
        ("fr", "Je voudrais une liste des meilleurs livres pour apprendre le français"),
        ("fr", "Pouvez-vous m'expliquer ce que fait ce code ?"),
    ],
)
def test_spanish_and_french(code: str, text: str) -> None:
    lang = detect(text)
    assert (lang.code, lang.script, lang.romanised) == (code, "Latn", False)


@pytest.mark.parametrize(
    "text", ["I love the café de Flore in Paris", "Write a haiku about la vie en rose"]
)
def test_a_few_romance_words_stay_english(text: str) -> None:
    assert detect(text).code == "en"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "🙂🎉👍",
        "12345 !!! ... ???",
        "१२३४ ।",  # Devanagari digits and danda are not letters
        "https://example.com/path?q=1",
        "my_var = foo_bar()",
        "```python\nprint('hello world')\n```",
    ],
)
def test_nothing_to_judge_is_undetermined(text: str) -> None:
    assert detect(text) == UNDETERMINED == Language("und", "Zyyy", 0.0, False)


@pytest.mark.parametrize("text", ["Привет, как дела?", "日本語のテキストを翻訳してください"])
def test_uncovered_script_is_undetermined_not_english(text: str) -> None:
    assert detect(text) == UNDETERMINED
    assert detect(f"{text} Python").code == "und"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Without dropping the URL its words would outnumber the Hindi ones.
        ("kya hai ye https://example.com/some/long/english/path/with/many/words/in/it", "hi"),
        ("isko dekho www.some-english-article-about-deep-learning.com", "hi"),
        (
            "सारांश दो https://www.example.com/articles/machine-learning-for-beginners-with-python",
            "hi",
        ),
        # Nor the fenced code block's English keywords.
        (
            "yeh code fail ho gaya\n```python\nfor item in items:\n"
            "    if item is None:\n        return the default value for it\n```",
            "hi",
        ),
    ],
)
def test_urls_and_code_are_not_counted(text: str, expected: str) -> None:
    assert detect(text).code == expected


def test_code_tokens_do_not_count_as_words() -> None:
    # The identifiers hold only Latin letters; if they counted, Hindi would be under a fifth.
    text = "यह ठीक करो load_training_dataset_from_disk(path) parse_configuration_file()"
    assert detect(text).code == "hi"
