"""The AWS target: ``SageMakerEndpoint`` (token ``inferstack:aws:SageMakerEndpoint``).

Importing this package loads ``pulumi_aws``; ``import inferstack`` alone does not.
"""

from __future__ import annotations

from inferstack.aws.endpoint import SageMakerEndpoint

__all__ = ["SageMakerEndpoint"]
