"""speedups.py patches only the pulumi_policy internals it finds, and verdicts never change.

A pulumi_policy release that renames one internal (the name-mangled policy list, a decoding
global, a servicer method) must leave that change out, not break the pack or its verdicts.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from test_policy_behaviour import _pack_diagnostics

from inferstack.compliance import speedups

POLICY: Any = importlib.import_module("pulumi_policy.policy")
SERVICER: Any = POLICY._PolicyAnalyzerServicer


def test_the_installed_pulumi_policy_has_every_internal() -> None:
    # Otherwise the speedups silently do nothing and the packs are slow: a release to look at.
    assert speedups.can_memoize()
    assert speedups.can_select()


def test_without_the_mangled_policy_list_only_the_decoding_change_applies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = _pack_diagnostics("hipaa")
    # As if pulumi_policy renamed the private attribute Analyze loops over.
    monkeypatch.setattr(speedups, "_POLICIES", "_PolicyAnalyzerServicer__rules")
    assert not speedups.can_select()
    assert speedups.can_memoize()

    undo = speedups.install()
    try:
        assert SERVICER.Analyze.__module__ == POLICY.__name__  # left alone
        assert POLICY.unknown_checking_proxy.__module__ == speedups.__name__
        fast = _pack_diagnostics("hipaa")
    finally:
        undo()
    assert fast == plain
    assert len(plain) > 100


def test_without_a_decoding_global_only_the_policy_selection_applies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = _pack_diagnostics("gdpr")
    # As if Analyze decoded through a global this module does not know (renamed upstream).
    monkeypatch.setattr(speedups, "_DECODERS", (*speedups._DECODERS, "decode_request"))
    assert not speedups.can_memoize()
    assert speedups.can_select()

    before = (POLICY.json_format, POLICY.deserialize_properties, POLICY.unknown_checking_proxy)
    undo = speedups.install()
    try:
        assert (
            POLICY.json_format,
            POLICY.deserialize_properties,
            POLICY.unknown_checking_proxy,
        ) == before
        assert SERVICER.Analyze.__module__ == speedups.__name__
        fast = _pack_diagnostics("gdpr")
    finally:
        undo()
    assert fast == plain
    assert SERVICER.Analyze.__module__ == POLICY.__name__  # undone


def test_analyze_not_reading_the_globals_disables_memoizing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def analyze(self: Any, request: Any, context: Any) -> Any:  # reads no decoding global
        return None

    monkeypatch.setattr(SERVICER, "Analyze", analyze)
    assert not speedups.can_memoize()
    assert not speedups.can_select()
    assert speedups.install() is not None  # installs nothing, breaks nothing
