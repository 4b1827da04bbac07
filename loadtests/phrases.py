"""What the load test's users say, per intent and language, in the phrasing of eval/'s labelled
requests (native scripts, romanised Hindi): English, Hindi, Tamil, Telugu and Bengali.

Every `auto` phrase is checked by tests/unit/test_loadtests_mix.py to classify as the intent it
stands under, so a change to the classifier that sends them elsewhere fails a test rather than
quietly changing what `make load` measures.
"""

from __future__ import annotations

Phrases = tuple[tuple[str, str], ...]  # (language, text)

AGENT: Phrases = (
    ("en", "Write a Python function that checks whether a number is prime."),
    ("en", "Explain the difference between TCP and UDP in two sentences."),
    ("en", "Draft a polite email asking my manager for leave on Friday."),
    ("hi", "मुझे Python में एक फ़ंक्शन लिखो जो सूची से डुप्लिकेट हटाए।"),
    ("hi", "mujhe ek resignation letter likh do"),
    ("ta", "ஒரு எண் பகா எண்ணா என்று சோதிக்கும் பைதான் நிரல் எழுது."),
    ("te", "పైథాన్ లో ఫైల్ చదివే ప్రోగ్రామ్ రాయండి."),
    ("bn", "পাইথনে একটি ফাংশন লেখো যা একটি তালিকা সাজায়।"),
)

# text only, asking for speech: the tts intent, answered as text (agent) spoken (tts sidecar)
TTS: Phrases = (
    ("en", "Read this announcement aloud: the office is closed on Monday."),
    ("hi", "इसे ज़ोर से पढ़कर सुनाओ: कल की बैठक दस बजे है।"),
    ("hi", "is message ko awaaz mein bol ke sunao"),
    ("ta", "இந்த அறிவிப்பை சத்தமாக வாசித்துக் காட்டு."),
    ("te", "ఈ సందేశాన్ని గట్టిగా చదివి వినిపించు."),
    ("bn", "এই ঘোষণাটা জোরে পড়ে শোনাও।"),
)

# with an audio part
STT: Phrases = (
    ("en", "Transcribe this recording."),
    ("en", "What is the caller asking for in this voice note?"),
    ("hi", "इस रिकॉर्डिंग को लिख दो।"),
    ("ta", "இந்த ஒலிப்பதிவை எழுத்தாக மாற்று."),
    ("te", "ఈ ఆడియోను టెక్స్ట్‌గా మార్చు."),
    ("bn", "এই রেকর্ডিংটা লিখে দাও।"),
)

# with a face (image part)
AVATAR: Phrases = (
    ("en", "Make the person in this photo say 'Welcome to our store'."),
    ("en", "Lip-sync this portrait to the line: Happy birthday, Riya!"),
    ("hi", "इस फोटो वाले व्यक्ति से बुलवाओ 'नमस्ते'।"),
    ("ta", "இந்த முகத்துக்கு லிப் சிங்க் செய்து 'வணக்கம்' என்று சொல்ல வை."),
    ("te", "ఈ ఫోటోలోని వ్యక్తితో 'స్వాగతం' అని చెప్పించు."),
)

# with an image part
MULTIMODAL: Phrases = (
    ("en", "Describe this image."),
    ("en", "Extract the total from this receipt."),
    ("hi", "इस तस्वीर में क्या है?"),
    ("ta", "இந்த ரசீதில் மொத்தத் தொகை என்ன?"),
    ("te", "ఈ చిత్రంలో ఏముంది?"),
    ("bn", "এই ছবিতে কী আছে?"),
)

# with a video part
VIDEO: Phrases = (
    ("en", "What happens in this clip?"),
    ("hi", "इस वीडियो का सारांश बताओ।"),
    ("ta", "இந்தக் காணொளியைச் சுருக்கமாகச் சொல்."),
    ("te", "ఈ వీడియోలో ఏం జరుగుతుంది?"),
    ("bn", "এই ভিডিওর সারাংশ বলো।"),
)

# what /v1/audio/speech is asked to say
SPOKEN: Phrases = (
    ("en", "The weekly report is ready."),
    ("hi", "नमस्ते, आप कैसे हैं?"),
    ("ta", "வணக்கம், நாளை சந்திப்போம்."),
    ("te", "నమస్కారం, రేపు కలుద్దాం."),
    ("bn", "নমস্কার, কাল দেখা হবে।"),
)

# passages to embed and rank: a small multilingual knowledge base
PASSAGES: tuple[str, ...] = (
    "A GPU keeps model weights in high-bandwidth memory.",
    "vLLM pages the KV cache in fixed-size blocks.",
    "मानसून जून में केरल पहुँचता है।",
    "சென்னை தமிழ்நாட்டின் தலைநகரம்.",
    "హైదరాబాద్ తెలంగాణ రాజధాని.",
    "কলকাতা হুগলি নদীর তীরে অবস্থিত।",
    "The cat sleeps on the warm windowsill.",
)
QUERIES: Phrases = (
    ("en", "How much GPU memory does a model need?"),
    ("hi", "मानसून कब आता है?"),
    ("ta", "தமிழ்நாட்டின் தலைநகரம் எது?"),
    ("te", "తెలంగాణ రాజధాని ఏది?"),
    ("bn", "কলকাতা কোন নদীর তীরে?"),
)
