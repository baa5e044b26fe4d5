"""Scheduled red-team scans with garak: probe selection, rendered command and config, reports.

Target-independent: the Kubernetes CronJob and the SageMaker Fargate task both run
:class:`Scan` through the runner script shipped in the image (``runner.py``).
"""

from __future__ import annotations

from inferstack.redteam.garak import Scan
from inferstack.redteam.plan import RedTeamPlan, red_team_plan
from inferstack.redteam.probes import GARAK_VERSION

__all__ = ["GARAK_VERSION", "RedTeamPlan", "Scan", "red_team_plan"]
