"""Energy arithmetic, the published figures, model cards and debiasing (against sklearn's PCA)."""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from helpers.audit.debias import bias_direction, cluster_alignment, neutralise, projection
from helpers.audit.energy import PUBLISHED, PowerAssumptions, estimate_energy, measure_cpu
from helpers.audit.model_card import SECTIONS, ModelCard


def test_energy_units():
    e = estimate_energy(
        7200.0, PowerAssumptions(watts_per_core=15.0, pue=1.5, grid_g_per_kwh=400.0)
    )
    assert e.kwh == pytest.approx(2 * 15 * 1.5 / 1000)  # 2 h x 15 W x 1.5 = 45 Wh
    assert e.grams_co2e == pytest.approx(0.045 * 400)
    with pytest.raises(ValueError, match="cpu_seconds"):
        estimate_energy(-1.0)
    with pytest.raises(ValueError, match="pue"):
        PowerAssumptions(pue=0.5)


def test_published_figures_are_the_papers():
    tonnes = {p.model.split(",")[0]: p.tonnes_co2e for p in PUBLISHED}
    assert tonnes["BERT-base"] == pytest.approx(
        1438 * 0.45359237 / 1000
    )  # 1,438 lbs (Strubell et al., Table 3)
    assert tonnes["BLOOM 176B"] == 24.7  # Luccioni et al. 2023
    assert all(p.caveat and p.source for p in PUBLISHED)


def test_measure_cpu_counts_work():
    result, cpu, wall = measure_cpu(lambda: sum(i * i for i in range(200_000)))
    assert result == sum(i * i for i in range(200_000)) and cpu > 0 and wall > 0


def card(**changes):
    values = dict(
        name="char GPT",
        details="2 layers",
        intended_use="teaching",
        factors="none",
        metrics={"bpc": 2.3},
        evaluation_data="wiki test",
        training_data="wiki train",
        quantitative={"gap": 0.1},
        ethics="e",
        caveats="c",
    )
    values.update(changes)
    return ModelCard(**values)


def test_model_card_sections_in_the_papers_order():
    md = card(notes={"metrics": "bits per character"}).to_markdown()
    positions = [md.index(f"## {title}") for _, title in SECTIONS]
    assert positions == sorted(positions) and len(SECTIONS) == 9
    assert "| bpc | 2.3 |" in md and "*bits per character*" in md


@pytest.mark.parametrize(
    "changes,match",
    [
        (dict(metrics={}), "metrics"),
        (dict(ethics="  "), "ethics"),
        (dict(quantitative={"x": float("nan")}), "finite"),
        (dict(notes={"nonsense": "x"}), "unknown sections"),
        (dict(metrics={"x": "2.3"}), "finite number"),
    ],
)
def test_model_card_refuses_holes(changes, match):
    with pytest.raises(ValueError, match=match):
        card(**changes).to_markdown()


def test_bias_direction_is_the_first_principal_component():
    rng = np.random.default_rng(0)
    g_true = np.eye(10)[0]
    pairs = [(v + 0.8 * g_true, v - 0.8 * g_true) for v in rng.normal(size=(6, 10))]
    pairs = [(a + 0.05 * rng.normal(size=10), b) for a, b in pairs]
    g = bias_direction(pairs)
    centred = []
    for a, b in pairs:
        ab = np.stack([a / np.linalg.norm(a), b / np.linalg.norm(b)])
        centred.append(ab - ab.mean(0))
    ref = PCA(n_components=1).fit(np.concatenate(centred)).components_[0]
    assert abs(g @ ref) == pytest.approx(1.0, abs=1e-10) and np.linalg.norm(g) == pytest.approx(1.0)
    assert projection([pairs[0][0]], g)[0] > 0  # signed towards the first word of the first pair


def test_neutralise_removes_the_direction_but_not_the_clusters():
    rng = np.random.default_rng(1)
    g = np.eye(8)[0]
    # two groups that differ along g AND along another axis: neutralising g leaves the second
    labels = np.r_[np.zeros(20), np.ones(20)].astype(int)
    X = rng.normal(scale=0.2, size=(40, 8)) + np.outer(2 * labels - 1, g + np.eye(8)[1])
    after = neutralise(X, g)
    np.testing.assert_allclose(after @ g, 0.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(after, axis=1), 1.0)
    np.testing.assert_allclose(neutralise(after, g), after, atol=1e-12)  # idempotent
    assert (
        cluster_alignment(after, labels) == 1.0
    )  # the bias is still recoverable (Gonen & Goldberg)
    with pytest.raises(ValueError, match="both present"):
        cluster_alignment(after, np.zeros(40))
    with pytest.raises(ValueError, match="dimension"):
        neutralise(X, np.ones(3))
