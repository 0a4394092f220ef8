"""The checks that test cells use: correct answers pass, tricks fail with a clear message."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.grading import (
    GradingFailure,
    as_array,
    as_float,
    as_int,
    as_str,
    check_close,
    check_equal,
    check_own_work,
    check_raises,
    check_shape,
    check_true,
    check_type,
    fresh_import,
    plain,
)


class Anything:
    def __eq__(self, other):
        return True

    def __lt__(self, other):
        return True

    def __sub__(self, other):
        return self

    __rsub__ = __sub__

    def __abs__(self):
        return self

    def __float__(self):
        return 0.0


class LyingFloat(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__

    def __float__(self):
        return 42.0


class LyingStr(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


class LyingList(list):
    def __iter__(self):
        return iter([1, 2, 3])

    def __eq__(self, other):
        return True


class SneakyTensor(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func is torch.Tensor.numpy:
            return np.array([0.5, 0.5])
        return super().__torch_function__(func, types, args, kwargs or {})


def test_naive_comparisons_are_fooled_which_is_why_the_checks_exist():
    assert Anything() == 3 and abs(Anything() - 3) < 1e-9  # a bare assert would pass
    assert LyingFloat(1.0) == 3.0 and float(LyingFloat(1.0)) == 42.0


@pytest.mark.parametrize("value", [Anything(), object(), "0.5", None])
def test_unknown_or_wrong_types_fail(value):
    with pytest.raises(GradingFailure):
        check_close(value, 0.5)


def test_subclasses_are_read_through_the_base_type():
    with pytest.raises(GradingFailure, match="got 1.0"):
        check_close(LyingFloat(1.0), 3.0)
    with pytest.raises(GradingFailure):
        check_equal(LyingStr("cat"), "dog")
    assert plain(LyingList([7, 8])) == [7, 8]
    with pytest.raises(GradingFailure):
        check_equal(LyingList([7, 8]), [1, 2, 3])


def test_tensor_subclass_hooks_are_bypassed():
    t = torch.tensor([0.9, 0.1]).as_subclass(SneakyTensor)
    with pytest.raises(GradingFailure):
        check_close(t, [0.5, 0.5])
    check_close(t, [0.9, 0.1])


def test_correct_values_of_every_kind_pass():
    check_close(np.float32(0.1) + np.float32(0.2), 0.3, rtol=1e-6)
    check_close(torch.tensor([[1.0, 2.0]], requires_grad=True) * 1, np.array([[1, 2]]))
    check_close([1, 2.5], (1.0, 2.5))
    check_equal({"a": [1, (2, "x")]}, {"a": (1, [2, "x"])})
    check_equal(np.arange(3), [0, 1, 2])
    check_shape(torch.zeros(2, 5), (2, None))
    check_true(np.bool_(True), "numpy bools are bools")
    assert as_int(np.int64(7)) == 7 and as_int(3.0) == 3
    assert as_float(torch.tensor(2.5)) == 2.5 and as_str("x") == "x"
    assert as_array([[1, 2]], shape=(1, 2)).dtype == np.float64


def test_failures_say_where_and_respect_reveal():
    with pytest.raises(GradingFailure, match=r"index \(1,\): got 5.0, expected 2.0"):
        check_close([1, 5], [1, 2], name="v")
    with pytest.raises(GradingFailure) as info:
        check_close([1, 5], [1, 2], name="v", reveal=False)
    assert "expected" not in str(info.value) and "2.0" not in str(info.value)
    with pytest.raises(GradingFailure, match="shape"):
        check_close(np.zeros(3), np.zeros((3, 1)))  # no silent broadcasting
    with pytest.raises(GradingFailure, match="not True/False"):
        check_true(Anything(), "must be true")
    with pytest.raises(GradingFailure, match="whole number"):
        as_int(2.5)
    with pytest.raises(GradingFailure, match="has 2 items, expected 3"):
        check_equal([1, 2], [1, 2, 3])


def test_nan_handling_and_object_arrays():
    check_close([np.nan, 1.0], [np.nan, 1.0])
    with pytest.raises(GradingFailure, match="not a finite number"):
        check_close([np.nan], [1.0])
    with pytest.raises(GradingFailure, match="Python objects"):
        as_array(np.array([Anything()], dtype=object))


def test_check_raises_and_own_work():
    assert isinstance(check_raises(ValueError, int, "x"), ValueError)
    with pytest.raises(GradingFailure, match="returned normally"):
        check_raises(ValueError, int, "3")
    with pytest.raises(GradingFailure, match="raised TypeError"):
        check_raises(ValueError, int, None)
    from helpers.data import random_windows

    with pytest.raises(GradingFailure, match="course package"):
        check_own_work(random_windows, "random_windows")

    def mine():
        pass

    check_own_work(mine, "mine")


def test_check_type_takes_a_fresh_copy_for_the_course_class():
    from helpers.data.vocab import Vocab

    fresh = fresh_import("helpers.data.vocab")
    check_type(Vocab.from_text("abc"), fresh.Vocab, name="vocab")  # students' check(): a local object
    check_type(fresh.Vocab.from_text("abc"), Vocab, name="vocab")
    check_type(Vocab.from_text("abc"), (int, fresh.Vocab), name="vocab")

    class Vocab2:  # noqa: N801 - same name elsewhere is not the course's class
        pass

    Vocab2.__name__ = Vocab2.__qualname__ = "Vocab"
    with pytest.raises(GradingFailure, match="should be a Vocab"):
        check_type(Vocab2(), fresh.Vocab, name="vocab")
    with pytest.raises(GradingFailure, match="should be a int"):
        check_type(Vocab.from_text("abc"), int, name="vocab")


def test_fresh_import_is_a_separate_copy():
    import helpers.data.vocab as vocab_module

    fresh = fresh_import("helpers.data.vocab")
    assert fresh is not vocab_module and fresh.Vocab is not vocab_module.Vocab
    original = vocab_module.Vocab.decode
    try:
        vocab_module.Vocab.decode = lambda self, ids: "patched"
        vocab = fresh.Vocab.from_text("abc")
        assert vocab.decode(vocab.encode("cab")) == "cab"
    finally:
        vocab_module.Vocab.decode = original
