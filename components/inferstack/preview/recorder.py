"""Recording mocks: every resource the program registers, captured at the monitor.

Capturing in ``RegisterResource`` (rather than in ``Mocks.new_resource``) keeps what the SDK put
on the wire: the property Struct with unknown sentinels during preview, the parent, the
dependencies and the per-property dependencies. What providers compute (ARNs, ids, names,
invoke results) is imitated in :mod:`inferstack.preview.providers`.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import resource_pb2

from inferstack.preview.providers import InferstackMocks
from inferstack.preview.values import (
    dict_to_struct,
    engine_struct,
    plain,
    struct_to_dict,
)

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class CapturedResource:
    """One ``RegisterResource`` request as the program sent it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    dependencies: tuple[str, ...]
    property_dependencies: Mapping[str, tuple[str, ...]]
    inputs: dict[str, Any]
    struct: struct_pb2.Struct
    provider: str | None = None
    protect: bool = False
    ignore_changes: tuple[str, ...] = ()
    additional_secret_outputs: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    delete_before_replace: bool | None = None
    custom_timeouts: tuple[str, str, str] | None = None
    # What the monitor answered: the resource's state after "creation" (inputs plus computed
    # outputs on update; inputs with unknowns on preview). Packs see it in AnalyzeStack.
    outputs: struct_pb2.Struct = field(default_factory=struct_pb2.Struct)

    @functools.cached_property
    def engine_properties(self) -> struct_pb2.Struct:
        """The inputs as the engine sends them to policy packs (computed once for all packs)."""
        return engine_struct(self.struct)

    @functools.cached_property
    def engine_outputs(self) -> struct_pb2.Struct:
        """The final state as AnalyzeStack sends it: outputs for custom resources."""
        return engine_struct(self.outputs if self.custom else self.struct)

    @property
    def provider_urn(self) -> str | None:
        """The URN part of the provider reference (``urn::id``)."""
        if not self.provider:
            return None
        return self.provider.rsplit("::", 1)[0]

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")


def capture(urn: str, request: Any, outputs: struct_pb2.Struct) -> CapturedResource:
    timeouts = None
    if request.HasField("customTimeouts"):
        t = request.customTimeouts
        timeouts = (t.create, t.update, t.delete)
    inputs = plain(struct_to_dict(request.object))
    return CapturedResource(
        urn=urn,
        type=request.type,
        name=request.name,
        parent=request.parent or None,
        custom=bool(request.custom),
        dependencies=tuple(request.dependencies),
        property_dependencies={
            key: tuple(deps.urns) for key, deps in request.propertyDependencies.items()
        },
        inputs=inputs,
        struct=_copy(request.object),
        provider=request.provider or None,
        protect=bool(request.protect),
        ignore_changes=tuple(request.ignoreChanges),
        additional_secret_outputs=tuple(request.additionalSecretOutputs),
        aliases=tuple(request.aliasURNs),
        delete_before_replace=(
            bool(request.deleteBeforeReplace) if request.deleteBeforeReplaceDefined else None
        ),
        custom_timeouts=timeouts,
        outputs=_copy(outputs),
    )


def _copy(struct: struct_pb2.Struct) -> struct_pb2.Struct:
    copied = struct_pb2.Struct()
    copied.CopyFrom(struct)
    return copied


class RecordingMonitor(MockMonitor):
    """A MockMonitor that keeps every registration, in the order the SDK sent them."""

    def __init__(self, mocks: InferstackMocks, *, preview: bool) -> None:
        super().__init__(mocks)
        self.provider_mocks = mocks
        self.preview = preview
        self.captured: list[CapturedResource] = []
        self._lock = threading.Lock()
        self._thread_loops: list[asyncio.AbstractEventLoop] = []

    def _ensure_thread_loop(self) -> None:
        # The SDK calls the monitor from executor threads and gives each thread its own event
        # loop; creating them here lets close() shut them instead of leaving them to the GC.
        try:
            asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            with self._lock:
                self._thread_loops.append(loop)

    def close(self) -> None:
        """Close the event loops the executor threads used; call once the run is over."""
        with self._lock:
            loops, self._thread_loops = self._thread_loops, []
        for loop in loops:
            loop.close()

    def Invoke(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self._ensure_thread_loop()
        return super().Invoke(request)  # type: ignore[no-untyped-call]

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self._ensure_thread_loop()
        return super().ReadResource(request)  # type: ignore[no-untyped-call]

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self._ensure_thread_loop()
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == STACK_TYPE:
            response = resource_pb2.RegisterResourceResponse(urn=urn)
        elif self.preview:
            # What the engine answers for a create during preview: the inputs back, no id, and
            # every output the provider would compute left unknown.
            state = self.provider_mocks.normalized(request.type, struct_to_dict(request.object))
            response = resource_pb2.RegisterResourceResponse(
                urn=urn, id="", object=dict_to_struct(state)
            )
            self.resources[urn] = MockMonitor.ResourceRegistration(urn, "", {})
        else:
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        with self._lock:
            self.captured.append(capture(urn, request, response.object))
        return response
