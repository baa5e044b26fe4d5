"""The Azure ML target: ``OnlineEndpoint`` (token ``inferstack:azureml:OnlineEndpoint``).

Importing this package loads ``pulumi_azure_native``; ``import inferstack`` alone does not.
"""

from __future__ import annotations

from inferstack.azureml.component import OnlineEndpoint

__all__ = ["OnlineEndpoint"]
