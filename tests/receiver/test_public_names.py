"""Every name the receiver package offers imports from it, and it lists exactly those."""

from __future__ import annotations

import importlib

import pytest

import django_qstash.receiver as receiver


@pytest.mark.parametrize("name", receiver.__all__)
def test_each_public_name_imports(name):
    assert getattr(importlib.import_module("django_qstash.receiver"), name) is not None


def test_the_public_list_names_every_lazy_export():
    assert sorted(receiver.__all__) == sorted(receiver._EXPORTS)
