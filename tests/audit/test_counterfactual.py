"""Identity-term swaps: worked examples, the round trip, and the flip rate of a known classifier."""

import pytest

from helpers.audit.counterfactual import (
    GENDER_SWAPS,
    NAME_SWAPS,
    counterfactual_flip_rate,
    swap_table,
    swap_terms,
)


def test_worked_examples():
    assert swap_terms("She met her husband.") == ("He met his wife.", 3)
    assert swap_terms("HE said Mr Smith left.") == ("SHE said Mrs Smith left.", 2)
    assert swap_terms("Sheep and the shepherd.") == (
        "Sheep and the shepherd.",
        0,
    )  # whole words only
    assert swap_terms("Paul, John and Mary.", NAME_SWAPS) == ("Alice, Mary and John.", 3)


def test_round_trip_on_one_to_one_terms():
    # terms with a single counterpart come back after two swaps
    table = swap_table(GENDER_SWAPS)
    unique = [w for w in table if table[table[w]] == w]
    text = " ".join(unique)
    once, n = swap_terms(text)
    assert n == len(unique) and swap_terms(once)[0] == text


def test_table_and_errors():
    table = swap_table(GENDER_SWAPS)
    assert table["her"] == "his" and table["him"] == "her" and table["lady"] == "lord"
    with pytest.raises(ValueError, match="single words"):
        swap_table([("he", "she her")])
    with pytest.raises(ValueError, match="itself"):
        swap_table([("he", "HE")])


def test_flip_rate_of_known_classifiers():
    texts = [
        "he is a doctor",
        "she is a doctor",
        "the river is long",
        "his work on rivers",
        "her work on rivers",
    ]

    def gendered(ts):
        return [
            int(" she " in f" {t} " or " her " in f" {t} ") for t in ts
        ]  # decides by the pronoun

    r = counterfactual_flip_rate(gendered, texts)
    assert r.n_with_terms == 4 and r.flip_rate == 1.0 and r.flipped == [0, 1, 3, 4]

    def fair(ts):
        return [int("river" in t) for t in ts]

    assert counterfactual_flip_rate(fair, texts).flip_rate == 0.0
    with pytest.raises(ValueError, match="no text"):
        counterfactual_flip_rate(fair, ["the river is long"])
    with pytest.raises(ValueError, match="one class per text"):
        counterfactual_flip_rate(lambda ts: [0], texts)
