"""``inferstack:vertex:ModelDeployment``: upload a model and deploy it to an endpoint, with CMEK.

pulumi-gcp has an endpoint resource but none that uploads a custom-container model with an
``encryptionSpec`` and deploys it, so this dynamic provider calls the Vertex AI API through the
google-cloud-aiplatform GAPIC clients (REST transport). The library is imported inside the
methods: ``import inferstack`` and an offline preview never need it.

Lifecycle:
- create: upload the model (container spec, artifact URI, encryption spec), then deploy each
  planned deployment (spot, on-demand fallback) with its share of traffic.
- update: upload a new version of the same model, deploy it beside the running one while moving
  traffic over, then undeploy the old deployed models. Earlier versions stay in the Model
  Registry for rollback.
- delete: undeploy every deployed model (traffic first), then delete the model.
API failures surface as one line naming the call, the status and Google's message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

KIND = "inferstack:vertex:ModelDeployment"
# Inputs whose change needs a new model in a new place rather than a new version.
REPLACE_KEYS = ("project", "location", "endpoint", "modelId")
_IGNORED = ("__provider",)
OUTPUT_KEYS = ("model", "modelVersionId", "deployedModelIds")


class VertexApiError(RuntimeError):
    """A Vertex AI call failed; the message is one line."""


class ModelDeploymentProvider(dynamic.ResourceProvider):
    # Nothing secret is captured: let policy packs and reviewers see the provider's inputs.
    serialize_as_secret_always = False

    def __init__(self, credentials: Any = None) -> None:
        super().__init__()
        self.credentials = credentials

    # -- Pulumi's provider interface -----------------------------------------------------------

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        api = _Api(props, self.credentials)
        model, version = api.upload(props)
        deployed: dict[str, str] = {}
        try:
            api.deploy_all(props, f"{model}@{version}", previous={}, deployed=deployed)
        except VertexApiError:
            # Pulumi records nothing for a failed create: leave nothing behind either.
            self.delete(model, {**props, "model": model, "deployedModelIds": deployed})
            raise
        outs = {**props, "model": model, "modelVersionId": version, "deployedModelIds": deployed}
        return dynamic.CreateResult(id_=model, outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changes = sorted(
            key
            for key in news
            if key not in _IGNORED and key not in OUTPUT_KEYS and olds.get(key) != news[key]
        )
        replaces = [key for key in changes if key in REPLACE_KEYS]
        return dynamic.DiffResult(
            changes=bool(changes),
            replaces=replaces,
            stables=[key for key in REPLACE_KEYS if key not in replaces],
            delete_before_replace=True,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        api = _Api(news, self.credentials)
        model, version = api.upload(news, parent_model=str(olds["model"]))
        previous = dict(olds.get("deployedModelIds") or {})
        deployed = api.deploy_all(news, f"{model}@{version}", previous=previous)
        traffic = planned_traffic(news, deployed)
        for deployed_id in previous.values():
            api.undeploy(str(news["endpoint"]), str(deployed_id), traffic=traffic)
        return dynamic.UpdateResult(
            outs={**news, "model": model, "modelVersionId": version, "deployedModelIds": deployed}
        )

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        api = _Api(props, self.credentials)
        deployed = dict(props.get("deployedModelIds") or {})
        # The deployed model without traffic goes first; the last one takes the endpoint's
        # remaining traffic with it.
        for key in sorted(deployed, key=lambda k: _traffic(props, k)):
            remaining = {k: v for k, v in deployed.items() if k != key}
            traffic = dict.fromkeys(remaining.values(), 0)
            if traffic:
                traffic[next(iter(traffic))] = 100
            api.undeploy(str(props["endpoint"]), str(deployed[key]), traffic=traffic)
            deployed = remaining
        api.delete_model(str(props["model"]))

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        api = _Api(props, self.credentials)
        model = api.get_model(id_)
        if model is None:
            return dynamic.ReadResult(id_="", outs={})
        live = api.deployed_ids(str(props["endpoint"]))
        deployed = {
            key: value
            for key, value in (props.get("deployedModelIds") or {}).items()
            if value in live
        }
        return dynamic.ReadResult(id_=id_, outs={**props, "deployedModelIds": deployed})


class ModelDeployment(dynamic.Resource, module="vertex", name="ModelDeployment"):
    """A model uploaded with CMEK and deployed to a Vertex AI endpoint (see module doc)."""

    model: pulumi.Output[str]
    model_version_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        props: Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            ModelDeploymentProvider(),
            name,
            {**props, "kind": KIND, "model": None, "modelVersionId": None},
            opts,
        )


def planned_traffic(props: Mapping[str, Any], deployed: Mapping[str, str]) -> dict[str, int]:
    """The planned split over the deployed models (by id) that are up."""
    return {
        deployed[d["key"]]: int(d["trafficPercent"])
        for d in props["deployments"]
        if d["key"] in deployed
    }


def _traffic(props: Mapping[str, Any], key: str) -> int:
    for deployment in props.get("deployments") or []:
        if deployment["key"] == key:
            return int(deployment["trafficPercent"])
    return 0


class _Api:
    """The two GAPIC clients one operation needs, and the request messages it sends."""

    def __init__(self, props: Mapping[str, Any], credentials: Any) -> None:
        from google.cloud import aiplatform_v1

        location = str(props["location"])
        endpoint = props.get("apiEndpoint") or f"{location}-aiplatform.googleapis.com"
        options = {"api_endpoint": endpoint}
        self.v1 = aiplatform_v1
        with _errors("connect"):
            self.models = aiplatform_v1.ModelServiceClient(
                credentials=credentials, client_options=options, transport="rest"
            )
            self.endpoints = aiplatform_v1.EndpointServiceClient(
                credentials=credentials, client_options=options, transport="rest"
            )
        self.parent = f"projects/{props['project']}/locations/{location}"

    def upload(self, props: Mapping[str, Any], parent_model: str | None = None) -> tuple[str, str]:
        v1 = self.v1
        container = props["container"]
        spec = v1.ModelContainerSpec(
            image_uri=container["imageUri"],
            args=list(container["args"]),
            env=[v1.EnvVar(name=k, value=v) for k, v in container["env"].items()],
            ports=[v1.Port(container_port=int(container["port"]))],
            predict_route=container["predictRoute"],
            health_route=container["healthRoute"],
            deployment_timeout={"seconds": int(container["deploymentTimeoutSeconds"])},
            shared_memory_size_mb=int(container["sharedMemorySizeMb"]),
            startup_probe=v1.Probe(
                http_get=v1.Probe.HttpGetAction(
                    path=container["healthRoute"], port=int(container["port"])
                ),
                period_seconds=10,
                timeout_seconds=5,
                failure_threshold=max(1, int(container["deploymentTimeoutSeconds"]) // 10),
            ),
        )
        model = v1.Model(
            display_name=str(props["displayName"]),
            artifact_uri=str(props["artifactUri"]),
            container_spec=spec,
            encryption_spec=v1.EncryptionSpec(
                kms_key_name=str(props["encryptionSpec"]["kmsKeyName"])
            ),
            labels=dict(props.get("labels") or {}),
        )
        request = v1.UploadModelRequest(parent=self.parent, model=model)
        if parent_model:
            request.parent_model = parent_model
        else:
            request.model_id = str(props["modelId"])
        with _errors("UploadModel"):
            response = _wait(self.models.upload_model(request=request))
        return str(response.model), str(response.model_version_id or "1")

    def deploy_all(
        self,
        props: Mapping[str, Any],
        model: str,
        *,
        previous: Mapping[str, str],
        deployed: dict[str, str] | None = None,
    ) -> dict[str, str]:
        """Deploy every planned deployment; traffic moves off ``previous`` as they come up.

        ``deployed`` collects the ids as they come, so a caller can undo a partial deployment.
        """
        deployed = {} if deployed is None else deployed
        for deployment in props["deployments"]:
            shares = planned_traffic(props, deployed)
            shares["0"] = int(deployment["trafficPercent"])  # "0": the model being deployed
            rest = 100 - sum(shares.values())
            olds = list(previous.values())
            for old in olds:
                shares[old] = 0
            # Until every planned deployment is up, the rest stays on the previous version,
            # or (on create) on the newest deployment.
            shares[olds[0] if olds else "0"] += rest
            deployed[deployment["key"]] = self._deploy(props, model, deployment, shares)
        return deployed

    def _deploy(
        self,
        props: Mapping[str, Any],
        model: str,
        deployment: Mapping[str, Any],
        traffic: dict[str, int],
    ) -> str:
        v1 = self.v1
        resources = v1.DedicatedResources(
            machine_spec=v1.MachineSpec(
                machine_type=deployment["machineType"],
                accelerator_type=deployment["acceleratorType"],
                accelerator_count=int(deployment["acceleratorCount"]),
            ),
            min_replica_count=int(deployment["minReplicaCount"]),
            max_replica_count=int(deployment["maxReplicaCount"]),
            autoscaling_metric_specs=[
                v1.AutoscalingMetricSpec(metric_name=m["metricName"], target=int(m["target"]))
                for m in deployment["autoscalingMetricSpecs"]
            ],
            spot=bool(deployment["spot"]),
        )
        deployed_model = v1.DeployedModel(
            model=model,
            display_name=f"{props['displayName']}-{deployment['key']}",
            service_account=str(props["serviceAccount"]),
            dedicated_resources=resources,
            enable_access_logging=True,
        )
        request = v1.DeployModelRequest(
            endpoint=str(props["endpoint"]), deployed_model=deployed_model, traffic_split=traffic
        )
        with _errors("DeployModel"):
            response = _wait(self.endpoints.deploy_model(request=request))
        return str(response.deployed_model.id)

    def undeploy(self, endpoint: str, deployed_id: str, *, traffic: dict[str, int]) -> None:
        """Undeploy one deployed model; ``traffic`` is the split of the ones that stay."""
        request = self.v1.UndeployModelRequest(
            endpoint=endpoint, deployed_model_id=deployed_id, traffic_split=traffic
        )
        with _errors("UndeployModel", missing_ok=True):
            _wait(self.endpoints.undeploy_model(request=request))

    def delete_model(self, model: str) -> None:
        with _errors("DeleteModel", missing_ok=True):
            _wait(self.models.delete_model(request=self.v1.DeleteModelRequest(name=model)))

    def get_model(self, model: str) -> Any:
        """The model, or None once it is gone."""
        from google.api_core import exceptions

        try:
            return self.models.get_model(request=self.v1.GetModelRequest(name=model))
        except exceptions.NotFound:
            return None
        except exceptions.GoogleAPICallError as error:
            raise _one_line("GetModel", error) from error

    def deployed_ids(self, endpoint: str) -> set[str]:
        with _errors("GetEndpoint"):
            found = self.endpoints.get_endpoint(request=self.v1.GetEndpointRequest(name=endpoint))
        return {str(model.id) for model in found.deployed_models}


@contextmanager
def _errors(call: str, *, missing_ok: bool = False) -> Iterator[None]:
    from google.api_core import exceptions
    from google.auth import exceptions as auth_exceptions

    try:
        yield
    except exceptions.NotFound:
        if not missing_ok:
            raise VertexApiError(f"Vertex AI {call}: not found") from None
    except exceptions.GoogleAPICallError as error:
        message = " ".join(str(error.message or "").split())
        raise VertexApiError(f"Vertex AI {call} failed: {error.code} {message}".rstrip()) from error
    except auth_exceptions.DefaultCredentialsError:
        raise VertexApiError(
            f"Vertex AI {call}: no Google credentials (run gcloud auth application-default "
            "login, or set GOOGLE_APPLICATION_CREDENTIALS)"
        ) from None


def _one_line(call: str, error: Any) -> VertexApiError:
    message = " ".join(str(error.message or "").split())
    return VertexApiError(f"Vertex AI {call} failed: {error.code} {message}".rstrip())


def _wait(operation: Any) -> Any:
    """The result of a long-running operation (polled by the client until done)."""
    return operation.result()
