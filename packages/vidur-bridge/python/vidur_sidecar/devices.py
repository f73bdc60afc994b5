"""Registers device and node SKUs that Vidur's closed enums lack, by string-typed config subclasses.

Vidur looks SKUs up with `str(subclass.get_type()) == flag value`, so a dataclass subclass whose get_type()
returns a plain string is found without touching the IntEnums. Known SKUs are left to Vidur.
"""

from __future__ import annotations

from dataclasses import field, make_dataclass
from typing import Any

from .protocol import SidecarError

# __subclasses__() holds weak references: keep the generated classes alive for the whole run.
_KEEP: list[type] = []


def _known_types(base: type) -> set[str]:
    from vidur.config.utils import get_all_subclasses

    out: set[str] = set()
    for sub in get_all_subclasses(base):
        try:
            out.add(str(sub.get_type()))
        except (NotImplementedError, AttributeError, TypeError):
            continue
    return out


def register_device(spec: dict[str, Any] | None, device_name: str) -> bool:
    """Defines the device SKU `device_name` from spec {memory_gb, fp16_tflops} when Vidur lacks it.

    Returns True when a class was registered; raises VIDUR_UNKNOWN_DEVICE when it is unknown and no spec is given.
    """
    from vidur.config.device_sku_config import BaseDeviceSKUConfig

    if device_name in _known_types(BaseDeviceSKUConfig):
        return False
    if spec is None:
        raise SidecarError(
            "VIDUR_UNKNOWN_DEVICE",
            f"device '{device_name}' is not built into Vidur; give its memory (GB) and fp16 TFLOPs (device option)",
        )
    cls = make_dataclass(
        "VidurBridgeDevice_" + "".join(c if c.isalnum() else "_" for c in device_name),
        [
            ("fp16_tflops", int, field(default=int(spec["fp16_tflops"]))),
            ("total_memory_gb", int, field(default=int(spec["memory_gb"]))),
        ],
        bases=(BaseDeviceSKUConfig,),
        namespace={"get_type": staticmethod(lambda: device_name)},
    )
    _KEEP.append(cls)
    return True


def register_node(spec: dict[str, Any] | None, node_name: str) -> bool:
    """Defines the node SKU `node_name` from spec {devices_per_node} when Vidur lacks it."""
    from vidur.config.node_sku_config import BaseNodeSKUConfig

    if node_name in _known_types(BaseNodeSKUConfig):
        return False
    if spec is None:
        raise SidecarError(
            "VIDUR_UNKNOWN_DEVICE",
            f"node SKU '{node_name}' is not built into Vidur; give devices per node (node option)",
        )
    node_cls = make_dataclass(
        "VidurBridgeNode_" + "".join(c if c.isalnum() else "_" for c in node_name),
        [("num_devices_per_node", int, field(default=int(spec["devices_per_node"])))],
        bases=(BaseNodeSKUConfig,),
        namespace={"get_type": staticmethod(lambda: node_name)},
    )
    _KEEP.append(node_cls)
    return True
