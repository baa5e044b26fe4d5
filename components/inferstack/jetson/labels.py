"""Node labels a fleet's provisioning sets, and the object labels the fleet adds.

Workloads select devices only through these node labels, so they are the contract between
whoever provisions a device (flashing, enrolment into the site's k3s) and the fleet.
docs/targets/jetson.md lists them for operators.
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "inferstack.io"

# Set at provisioning on every device.
MODULE: Final = f"{PREFIX}/jetson-module"  # orin-nano-8gb, agx-orin-64gb, ...
COHORT: Final = f"{PREFIX}/cohort"  # canary, stable, ...
# Set by an administrator only after the device's state is verified (fuses burned, rootfs on
# LUKS): the fleet's device trust requires them under HIPAA or PHI. They live under the prefix
# Kubernetes' NodeRestriction admission plugin forbids kubelets to set on their own Node, so a
# device cannot vouch for itself; any other prefix (inferstack.io/ included) it could.
TRUST_PREFIX: Final = "node-restriction.kubernetes.io"
SECURE_BOOT: Final = f"{TRUST_PREFIX}/inferstack-secure-boot"
DISK_ENCRYPTION: Final = f"{TRUST_PREFIX}/inferstack-disk-encryption"
TRUSTED_VALUE: Final = "enabled"
DEVICE_TRUST: Final = {SECURE_BOOT: TRUSTED_VALUE, DISK_ENCRYPTION: TRUSTED_VALUE}

# On objects the fleet creates (not on nodes): which site, cohort and group they belong to.
SITE: Final = "inferstack/site"
OBJECT_COHORT: Final = "inferstack/cohort"
DEVICE_GROUP: Final = "inferstack/device-group"
FLEET: Final = "inferstack/fleet"
