"""pulumi-gcp imitated: resource ids, self links and the project invoke."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from inferstack.preview.providers.common import ProviderMocks, _token_parts, _uuid

PROJECT_NUMBER = "123456789012"


class GcpMocks(ProviderMocks):
    def _gcp(self, token: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        module, kind = _token_parts(token)
        service = module.split("/", 1)[0]
        project = str(inputs.get("project") or self.config.get("gcp:project") or "mock-project")
        location = str(
            inputs.get("region")
            or inputs.get("location")
            or self.config.get("gcp:region")
            or "us-central1"
        )
        physical = str(inputs.get("name") or name)
        plural = kind[0].lower() + kind[1:] + "s"
        generic = f"projects/{project}/locations/{location}/{plural}/{physical}"
        inputs.setdefault("selfLink", f"https://{service}.googleapis.com/v1/{generic}")
        # Ids in the shapes the provider returns, where other resources take them as inputs.
        regional = f"projects/{project}/locations/{location.lower()}"
        unique = _uuid(token, name)
        resource_id = generic
        if token == "gcp:kms/keyRing:KeyRing":
            resource_id = f"{regional}/keyRings/{physical}"
        elif token == "gcp:kms/cryptoKey:CryptoKey":
            resource_id = f"{inputs.get('keyRing')}/cryptoKeys/{physical}"
        elif token == "gcp:serviceaccount/account:Account":
            email = f"{inputs.get('accountId', physical)}@{project}.iam.gserviceaccount.com"
            resource_id = f"projects/{project}/serviceAccounts/{email}"
            inputs.setdefault("email", email)
            inputs.setdefault("member", f"serviceAccount:{email}")
            inputs.setdefault("uniqueId", str(uuid.UUID(unique).int)[:21])
        elif token == "gcp:storage/bucket:Bucket":
            resource_id = physical
            inputs.setdefault("url", f"gs://{physical}")
        elif service == "compute" and kind in ("Network", "GlobalAddress"):
            resource_id = f"projects/{project}/global/{plural}/{physical}"
        elif service == "compute" and kind == "Subnetwork":
            resource_id = f"projects/{project}/regions/{location}/subnetworks/{physical}"
        elif token == "gcp:cloudrunv2/service:Service":
            # The service's deterministic URL: https://<service>-<project number>.<region>.run.app
            # (Cloud Run, "URLs for Cloud Run services"); the number is getProject's below.
            inputs.setdefault("uri", f"https://{physical}-{PROJECT_NUMBER}.{location}.run.app")
        elif token == "gcp:vertex/aiEndpoint:AiEndpoint":
            resource_id = f"{regional}/endpoints/{physical}"
        elif token == "gcp:artifactregistry/repository:Repository":
            physical = str(inputs.get("repositoryId") or physical)
            resource_id = f"{regional}/repositories/{physical}"
        elif token == "gcp:bigquery/dataset:Dataset":
            resource_id = f"projects/{project}/datasets/{inputs.get('datasetId')}"
        elif token == "gcp:logging/projectBucketConfig:ProjectBucketConfig":
            resource_id = f"{regional}/buckets/{inputs.get('bucketId')}"
        elif token == "gcp:logging/projectSink:ProjectSink":
            resource_id = f"projects/{project}/sinks/{physical}"
            inputs.setdefault(
                "writerIdentity",
                "serviceAccount:service-123456789012@gcp-sa-logging.iam.gserviceaccount.com",
            )
        elif service == "monitoring":
            resource_id = physical = f"projects/{project}/{plural}/{uuid.UUID(unique).int % 10**19}"
        elif token == "gcp:billing/budget:Budget":
            resource_id = physical = (
                f"billingAccounts/{inputs.get('billingAccount')}/budgets/{unique}"
            )
        inputs.setdefault("id", resource_id)
        inputs.setdefault("name", physical)
        inputs.setdefault("project", project)
        return resource_id, inputs

    # -- invokes -----------------------------------------------------------------------------

    new_resource = _gcp

    def call(self, token: str, args: Mapping[str, Any]) -> dict[str, Any] | None:
        if token == "gcp:organizations/getProject:getProject":
            project = str(args.get("projectId") or self.config.get("gcp:project", "mock"))
            return {
                "projectId": project,
                "number": PROJECT_NUMBER,
                # The account the project is linked to, as the provider reads it (an id).
                "billingAccount": "012345-6789AB-CDEF01",
                "name": project,
                "id": f"projects/{project}",
            }
        return None
