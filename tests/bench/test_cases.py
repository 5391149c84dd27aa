"""The bench's rows follow the METHODS registry: every method gets a case, a new one with nothing else edited, and
each library's class for a method exists under the name bench.competitors gives it."""
import pytest

from bench.cases import CASES, bench_cases
from bench.competitors import CLASSES, LIBRARIES, library_class
from camcore.cams import METHODS
from camcore.cams.base import Method


def test_every_registered_method_has_a_case_and_labels_are_unique():
    cases = bench_cases()
    assert {case.method for case in cases} == set(METHODS)
    assert len({case.label for case in cases}) == len(cases)  # the table finds a row's case by its label
    assert cases[:len(CASES)] == CASES  # the hand-set rows and their goals are kept


def test_derived_cases_explain_top_5_or_one_class_agnostic_map():
    derived = {case.method: case for case in bench_cases()[len(CASES):]}
    assert derived["eigencam"].top_k == 1 and derived["eigencam"].label == "EigenCAM top-1"
    assert derived["hirescam"].top_k == 5 and derived["hirescam"].layer is None


def test_registering_a_method_adds_its_case(monkeypatch):
    before = bench_cases()
    dummy = Method("dummy", "Dummy-CAM", "a test's copy of Grad-CAM", METHODS["gradcam"].weights, needs_gradients=True,
                   rectify=True)
    monkeypatch.setitem(METHODS, "dummy", dummy)
    added = [case for case in bench_cases() if case not in before]
    assert [(case.label, case.method, case.top_k, case.layer) for case in added] == [
        ("Dummy-CAM top-5", "dummy", 5, None)]
    assert library_class("dummy", "torchcam") is None and library_class("dummy", "pytorch-grad-cam") is None


@pytest.mark.parametrize(("column", "module"), [(0, "torchcam.methods"), (1, "pytorch_grad_cam")])
def test_library_classes_exist(column, module):
    library = pytest.importorskip(module)
    names = {key: row[column] for key, row in CLASSES.items() if row[column] is not None}
    assert set(CLASSES) <= set(METHODS)
    assert all(isinstance(getattr(library, name, None), type) for name in names.values()), names
    assert all(library_class(key, LIBRARIES[column]) == name for key, name in names.items())
