"""Purged k-fold against hand-worked index sets (López de Prado ch. 7)."""

from __future__ import annotations

import numpy as np
import pytest

from quantdesk.ml import MLError, cv_score, make_model, purged_kfold


def _folds(*args: int) -> list[tuple[list[int], list[int]]]:
    return [(train.tolist(), test.tolist()) for train, test in purged_kfold(*args)]


def test_three_bar_labels_purge_the_two_samples_before_a_fold_starting_at_3() -> None:
    """The case openquant #65 got wrong: labels spanning [i, i+2], test fold 3..5 of 12 samples."""
    folds = _folds(12, 4, 3, 0)
    train, test = folds[1]
    assert test == [3, 4, 5]
    # samples 1 and 2 end inside the fold (at 3 and 4): purged; 0 ends at 2: kept;
    # 6 and 7 start inside the test labels' span [3, 7]: purged too; 8.. kept
    assert train == [0, 8, 9, 10, 11]


def test_hand_worked_folds_with_an_embargo() -> None:
    assert _folds(12, 4, 3, 2) == [
        ([7, 8, 9, 10, 11], [0, 1, 2]),        # test labels span [0, 4]; embargo drops 5, 6
        ([0, 10, 11], [3, 4, 5]),              # purge 1, 2 before; [3, 7] + embargo 8, 9 after
        ([0, 1, 2, 3], [6, 7, 8]),             # purge 4, 5 before; 9..11 inside span + embargo
        ([0, 1, 2, 3, 4, 5, 6], [9, 10, 11]),  # purge 7, 8 before; nothing after
    ]


def test_one_bar_labels_and_no_embargo_are_plain_kfold() -> None:
    for train, test in purged_kfold(10, 5, 1, 0):
        assert sorted(train.tolist() + test.tolist()) == list(range(10))


@pytest.mark.parametrize(("n", "k", "horizon", "embargo"), [(10, 1, 1, 0), (3, 4, 1, 0), (10, 2, 0, 0), (10, 2, 1, -1)])
def test_bad_folds_are_one_line_errors(n: int, k: int, horizon: int, embargo: int) -> None:
    with pytest.raises(MLError) as e:
        list(purged_kfold(n, k, horizon, embargo))
    assert "\n" not in str(e.value)


def test_cv_score_trains_on_purged_folds_only() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = x[:, 0] + 0.1 * rng.normal(size=200)
    seen: list[int] = []

    class Spy:
        def __init__(self) -> None:
            self.inner = make_model("ridge", 0)

        def fit(self, xs: np.ndarray, ys: np.ndarray) -> None:
            seen.append(len(xs))
            self.inner.fit(xs, ys)

        def predict(self, xs: np.ndarray) -> np.ndarray:
            return self.inner.predict(xs)

    scores = cv_score(Spy, x, y, k=4, horizon=5, embargo=2)
    assert len(scores) == 4 and (scores > 0.8).all()  # a linear signal, sign hit rate well above chance
    # inner folds lose 4 before + 4 after + 2 embargo; edge folds only one side
    assert seen == [200 - 50 - 4 - 2, 200 - 50 - 8 - 2, 200 - 50 - 8 - 2, 200 - 50 - 4]
