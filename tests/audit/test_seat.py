"""SEAT: templates, and equality with WEAT when the encoder sees only the word."""

import numpy as np
import pytest

from helpers.audit.seat import TEMPLATES, fill_templates, seat
from helpers.audit.weat import WORD_SETS, weat


def test_fill_templates_order_and_errors():
    assert fill_templates(["a", "b"], ["{} x", "y {}"]) == ["a x", "y a", "b x", "y b"]
    with pytest.raises(ValueError, match="exactly one"):
        fill_templates(["a"], ["no slot"])
    with pytest.raises(ValueError, match="list of words"):
        fill_templates("rose", ["{}"])


def test_seat_with_a_word_encoder_is_weat_on_repeated_vectors():
    # an encoder that only looks at the word: each word's vector appears once per template
    test = WORD_SETS["career-family"]
    words = sorted({*test.X, *test.Y, *test.A, *test.B})
    table = dict(zip(words, np.random.default_rng(0).normal(size=(len(words), 16)), strict=False))
    templates = TEMPLATES["name"][:3]

    def encode(sentences):
        return np.stack(
            [
                table[next(w for w in words if f" {w} " in f" {s.replace('.', ' ')} ")]
                for s in sentences
            ]
        )

    got = seat(encode, test, templates, n_samples=2000, generator=np.random.default_rng(0))
    rep = {
        k: np.repeat(np.stack([table[w] for w in ws]), len(templates), axis=0)
        for k, ws in zip("XYAB", (test.X, test.Y, test.A, test.B), strict=True)
    }
    ref = weat(
        rep["X"], rep["Y"], rep["A"], rep["B"], n_samples=2000, generator=np.random.default_rng(0)
    )
    assert got == ref


def test_seat_on_minilm_runs_and_checks_the_encoder():
    from helpers.pretraining import encode_sentences, load_minilm

    minilm, tok = load_minilm(fast=True)
    result = seat(
        lambda s: encode_sentences(minilm, tok, s).numpy(),
        WORD_SETS["career-family"],
        TEMPLATES["name"][:2],
        n_samples=500,
        generator=np.random.default_rng(0),
    )
    assert -2 <= result.effect_size <= 2 and 0 < result.p_value <= 1 and not result.exact
    with pytest.raises(ValueError, match="one vector per sentence"):
        seat(
            lambda s: np.ones((1, 4)),
            WORD_SETS["career-family"],
            TEMPLATES["name"][:2],
            generator=np.random.default_rng(0),
        )
