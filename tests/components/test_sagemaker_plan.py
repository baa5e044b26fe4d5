"""What the SageMaker target derives from the spec alone: container settings, names, checks."""

from __future__ import annotations

import re
from typing import Any

import pytest

from inferstack import catalog
from inferstack.aws import container, names
from inferstack.aws.args import SageMakerArgs
from inferstack.aws.plan import BACKLOG_METRIC, REALTIME_METRICS, build_plan
from inferstack.deployment import parse_deployment, validate_for_target
from inferstack.deployment.targets import serving_context
from inferstack.errors import SpecError

REGION = "eu-central-1"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


def spec_of(**sections: Any) -> Any:
    return parse_deployment({"name": "bot", "model": {"id": LLAMA}, **sections})


def plan_of(component: str = "bot", front_door: bool = False, **sections: Any) -> Any:
    spec = spec_of(**sections)
    return build_plan(
        spec,
        validate_for_target(spec, "sagemaker", REGION),
        SageMakerArgs(front_door=front_door),
        name=component,
        region=REGION,
    )


# -- model source ----------------------------------------------------------------------------


def test_hub_source_keeps_the_revision() -> None:
    source = container.model_source(
        spec_of(model={"id": LLAMA, "source": f"hf://{LLAMA}@0e9e39f2"})
    )
    assert (source.kind, source.model_id, source.revision) == ("hf", LLAMA, "0e9e39f2")


@pytest.mark.parametrize(
    ("uri", "key", "compressed"),
    [
        ("s3://models/llama", "llama/", False),
        ("s3://models/llama/", "llama/", False),
        ("s3://models/llama/model.tar.gz", "llama/model.tar.gz", True),
    ],
)
def test_s3_source_is_a_prefix_or_a_tarball(uri: str, key: str, compressed: bool) -> None:
    source = container.model_source(spec_of(model={"id": LLAMA, "source": uri}))
    assert (source.bucket, source.key, source.compressed) == ("models", key, compressed)
    assert source.s3_uri == f"s3://models/{key}"


# -- environment -----------------------------------------------------------------------------


def test_tgi_environment() -> None:
    spec = spec_of(
        model={"id": LLAMA, "source": f"hf://{LLAMA}@abc123", "max_context": 16384},
        serving={"runtime": "tgi", "gpu_memory_utilization": 0.85},
    )
    env = container.environment(spec, container.model_source(spec), gpu_count=4)
    assert env["HF_MODEL_ID"] == LLAMA
    assert env["HF_MODEL_REVISION"] == "abc123"
    assert env["SM_NUM_GPUS"] == "4"
    assert env["MAX_TOTAL_TOKENS"] == "16384"
    assert env["MAX_INPUT_TOKENS"] == str(16384 - 4096)
    assert int(env["MAX_BATCH_PREFILL_TOKENS"]) >= int(env["MAX_INPUT_TOKENS"])
    assert env["CUDA_MEMORY_FRACTION"] == "0.85"
    assert env["DTYPE"] == "bfloat16"
    assert "HF_HUB_OFFLINE" not in env


def test_lmi_environment_from_s3() -> None:
    spec = spec_of(
        model={"id": LLAMA, "source": "s3://models/llama/", "max_context": 8192},
        serving={"runtime": "lmi", "max_concurrency": 12},
    )
    env = container.environment(spec, container.model_source(spec), gpu_count=2)
    assert env["HF_MODEL_ID"] == "/opt/ml/model"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["OPTION_TENSOR_PARALLEL_DEGREE"] == "2"
    assert env["OPTION_MAX_MODEL_LEN"] == "8192"
    assert env["OPTION_MAX_ROLLING_BATCH_SIZE"] == "12"
    assert env["OPTION_DTYPE"] == "bf16"
    # lmi lets the container choose its engine; vllm asks for vLLM explicitly.
    assert "OPTION_ROLLING_BATCH" not in env


@pytest.mark.parametrize("runtime", ["tgi", "lmi"])
def test_only_fp8_is_quantized_at_load_time(runtime: str) -> None:
    key = "HF_MODEL_QUANTIZE" if runtime == "tgi" else "OPTION_QUANTIZE"
    for dtype, expected in (("fp8", "fp8"), ("int4-awq", None), ("int4-gptq", None)):
        spec = spec_of(model={"id": LLAMA, "dtype": dtype}, serving={"runtime": runtime})
        env = container.environment(spec, container.model_source(spec), gpu_count=1)
        assert env.get(key) == expected, dtype
        # A pre-quantized checkpoint is not also given a 16-bit dtype.
        assert "DTYPE" not in env and "OPTION_DTYPE" not in env


def test_default_context_is_the_one_the_memory_fit_was_checked_for() -> None:
    spec = spec_of()
    env = container.environment(spec, container.model_source(spec), gpu_count=1)
    assert env["OPTION_MAX_MODEL_LEN"] == str(serving_context(spec))
    # 8192 unless the model's own window is smaller: 131072 x 16 sequences was never sized.
    assert serving_context(spec) == min(8192, catalog.model(LLAMA).default_context)


@pytest.mark.parametrize(
    ("runtime", "args", "expected"),
    [
        (
            "tgi",
            ["--max-batch-size", "32", "--disable-custom-kernels"],
            {
                "MAX_BATCH_SIZE": "32",
                "DISABLE_CUSTOM_KERNELS": "true",
            },
        ),
        (
            "vllm",
            ["--enable-prefix-caching", "--max-num-batched-tokens=8192"],
            {
                "OPTION_ENABLE_PREFIX_CACHING": "true",
                "OPTION_MAX_NUM_BATCHED_TOKENS": "8192",
            },
        ),
    ],
)
def test_extra_args_become_the_images_variables(
    runtime: str, args: list[str], expected: dict[str, str]
) -> None:
    spec = spec_of(serving={"runtime": runtime, "extra_args": args})
    env = container.environment(spec, container.model_source(spec), gpu_count=1)
    assert {key: env[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("runtime", "serving", "expected", "absent"),
    [
        ("tgi", {"trust_remote_code": True}, {"TRUST_REMOTE_CODE": "true"}, ()),
        # TGI has no switch for tools: the gateway refuses tool requests instead.
        ("tgi", {"tool_calling": True}, {}, ("OPTION_ENABLE_AUTO_TOOL_CHOICE",)),
        (
            "vllm",
            {"trust_remote_code": True, "tool_calling": True},
            {
                "OPTION_TRUST_REMOTE_CODE": "true",
                "OPTION_ENABLE_AUTO_TOOL_CHOICE": "true",
                "OPTION_TOOL_CALL_PARSER": "llama3_json",
            },
            (),
        ),
        (
            "lmi",
            {},
            {},
            ("OPTION_TRUST_REMOTE_CODE", "OPTION_ENABLE_AUTO_TOOL_CHOICE", "TRUST_REMOTE_CODE"),
        ),
    ],
)
def test_declared_flags_become_the_images_variables(
    runtime: str, serving: dict[str, Any], expected: dict[str, str], absent: tuple[str, ...]
) -> None:
    spec = spec_of(serving={"runtime": runtime, **serving})
    env = container.environment(spec, container.model_source(spec), gpu_count=1)
    assert {key: env.get(key) for key in expected} == expected
    assert not set(absent) & set(env)


def test_tool_calling_needs_a_known_parser_or_one_named() -> None:
    model = {"id": "google/gemma-2-9b-it"}
    spec = spec_of(model=model, serving={"runtime": "vllm", "tool_calling": True})
    with pytest.raises(SpecError, match=r"serving\.tool_calling.*--tool-call-parser"):
        container.environment(spec, container.model_source(spec), gpu_count=1)
    named = spec_of(
        model=model,
        serving={
            "runtime": "vllm",
            "tool_calling": True,
            "extra_args": ["--tool-call-parser", "hermes"],
        },
    )
    env = container.environment(named, container.model_source(named), gpu_count=1)
    assert env["OPTION_TOOL_CALL_PARSER"] == "hermes"
    assert env["OPTION_ENABLE_AUTO_TOOL_CHOICE"] == "true"


def test_token_secret_is_passed_by_name_only() -> None:
    spec = spec_of(model={"id": LLAMA, "hf_token_secret": {"name": "hf", "key": "value"}})
    env = container.environment(spec, container.model_source(spec), 1, token_secret="hf")
    assert env["INFERSTACK_HF_TOKEN_SECRET_ID"] == "hf"
    assert env["INFERSTACK_HF_TOKEN_SECRET_KEY"] == "value"
    assert not [k for k in env if "TOKEN" in k and "SECRET" not in k]


def test_gguf_is_refused() -> None:
    spec = parse_deployment({"name": "bot", "model": {"id": LLAMA, "dtype": "gguf-q4_k_m"}})
    with pytest.raises(SpecError) as caught:
        container.environment(spec, container.model_source(spec), gpu_count=1)
    assert caught.value.path == "model.dtype"


# -- timeouts --------------------------------------------------------------------------------


def test_timeouts_are_clamped_and_grow_with_size() -> None:
    small = spec_of(model={"id": LLAMA, "source": "s3://m/8b/"})
    large = spec_of(model={"id": "meta-llama/Llama-3.1-70B-Instruct", "source": "s3://m/70b/"})
    small_download, small_start = container.timeouts(small, container.model_source(small))
    large_download, large_start = container.timeouts(large, container.model_source(large))
    assert 600 < small_download < large_download <= 3600
    assert 600 < small_start < large_start <= 3600
    hub = spec_of()
    assert container.timeouts(hub, container.model_source(hub))[1] > small_start


# -- names -----------------------------------------------------------------------------------


def test_bucket_and_role_names_fit_aws_limits() -> None:
    long = "a" * 40
    bucket = names.bucket_name(long, "access-logs", "123456789012", "ap-southeast-4")
    assert len(bucket) <= 63
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*[a-z0-9]", bucket)
    assert names.bucket_name("bot", "artifacts", "1", REGION) != names.bucket_name(
        "bot", "artifacts", "2", REGION
    )
    assert len(names.role_name(long, "apigateway", "ap-southeast-4")) <= 64


def test_ecr_repository_arn() -> None:
    image = catalog.sagemaker_image("tgi", REGION)
    arn = names.ecr_repository_arn(image, "aws")
    assert arn.startswith("arn:aws:ecr:eu-central-1:763104351884:repository/")
    assert ":" not in arn.rsplit("/", 1)[1]
    with_digest = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/a/b:1@sha256:" + "e" * 64
    assert names.ecr_repository_arn(with_digest, "aws") == (
        "arn:aws:ecr:eu-west-1:123456789012:repository/a/b"
    )


@pytest.mark.parametrize(
    ("key", "accepted"),
    [
        ("arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", True),
        ("1234abcd-12ab-34cd-56ef-1234567890ab", True),
        ("mrk-1234abcd12ab34cd56ef1234567890ab", True),
        ("alias/llm", False),
        ("arn:aws:kms:eu-central-1:123456789012:alias/llm", False),
    ],
)
def test_kms_key_references(key: str, accepted: bool) -> None:
    assert names.is_kms_key_reference(key) is accepted


def test_partitions() -> None:
    assert names.partition("eu-central-1") == "aws"
    assert names.partition("cn-north-1") == "aws-cn"
    assert names.partition("us-gov-west-1") == "aws-us-gov"


# -- plan ------------------------------------------------------------------------------------


def test_plan_for_defaults() -> None:
    planned = plan_of()
    assert planned.endpoint_name == "bot"
    assert planned.create_key and planned.create_network
    assert planned.needs_internet and not planned.network_isolation
    assert planned.scaling_metric == REALTIME_METRICS["concurrency"]
    assert (planned.min_capacity, planned.initial_instance_count) == (1, 1)


def test_plan_for_async_scale_to_zero() -> None:
    planned = plan_of(
        serving={"mode": "async"},
        scaling={"min_replicas": 0, "scale_to_zero": True},
        security={"guard": {"input": False, "output": "off"}},
    )
    assert planned.scaling_metric == BACKLOG_METRIC
    assert (planned.min_capacity, planned.initial_instance_count) == (0, 1)


def test_component_names_become_valid_endpoint_names() -> None:
    assert plan_of(component="Support_Bot.v2").endpoint_name == "Support-Bot-v2"


# -- what the stack's own packs would refuse -------------------------------------------------

MIRROR = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/mirror/djl-inference@sha256:" + "a" * 64
WEIGHTS = "s3://acme-models/meta-llama/Llama-3.1-8B-Instruct/0e9e39f/"
HUB = f"hf://{LLAMA}@0e9e39f249a16976918f6564b8830bc894c89659"


def refusal(**sections: Any) -> SpecError:
    with pytest.raises(SpecError) as caught:
        plan_of(**sections)
    return caught.value


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
@pytest.mark.parametrize("runtime", ["vllm", "tgi"])
def test_owasp_llm_refuses_the_catalog_image_by_tag(environment: str, runtime: str) -> None:
    # all-serving-image-require-digest has no environment setting: it fails the tag everywhere.
    error = refusal(
        environment=environment,
        serving={"runtime": runtime},
        scaling={"min_replicas": 2, "max_replicas": 2},
        compliance={"frameworks": ["owasp-llm"]},
    )
    assert error.key == "inferstack:deployment.serving.image"
    assert catalog.sagemaker_image(runtime, REGION) in error.problem
    assert "owasp-llm" in error.problem
    assert "@sha256:<digest>" in str(error.fix) and "Pin the serving image" in str(error.fix)


def test_owasp_llm_takes_an_image_by_digest_and_the_tag_is_fine_without_it() -> None:
    pinned = plan_of(serving={"image": MIRROR}, compliance={"frameworks": ["owasp-llm"]})
    assert pinned.image == MIRROR
    assert plan_of(model={"id": LLAMA, "source": WEIGHTS}, compliance={"frameworks": ["hipaa"]})


def test_owasp_llm_refuses_async_before_the_guard_settings_async_needs() -> None:
    error = refusal(
        serving={"mode": "async", "image": MIRROR},
        security={"guard": {"input": False, "output": "off"}},
        compliance={"frameworks": ["owasp-llm"]},
    )
    assert error.key == "inferstack:deployment.serving.mode"
    assert "guard gateway" in error.problem and "owasp-llm" in error.problem
    assert "realtime" in str(error.fix) and "owasp-llm" in str(error.fix)
    # With the guard on, owasp-llm is still the reason named, not the guard settings.
    error = refusal(serving={"mode": "async"}, compliance={"frameworks": ["owasp-llm"]})
    assert error.key == "inferstack:deployment.serving.mode"


@pytest.mark.parametrize("frameworks", [["hipaa"], ["gdpr"], ["hipaa", "gdpr"]])
@pytest.mark.parametrize("source", [None, HUB])
def test_hipaa_and_gdpr_refuse_a_hub_download(frameworks: list[str], source: str | None) -> None:
    # aws-sagemaker-model-require-network-isolation: only weights in S3 let the model run isolated.
    error = refusal(model={"id": LLAMA, "source": source}, compliance={"frameworks": frameworks})
    assert error.key == "inferstack:deployment.model.source"
    assert " and ".join(frameworks) in error.problem
    assert "s3://<bucket>/<prefix>/" in str(error.fix) and "pinned revision" in str(error.fix)


def test_a_hub_download_is_fine_without_hipaa_or_gdpr() -> None:
    planned = plan_of(model={"id": LLAMA, "source": HUB})
    assert planned.needs_internet and not planned.network_isolation
    isolated = plan_of(model={"id": LLAMA, "source": WEIGHTS}, compliance={"frameworks": ["gdpr"]})
    assert isolated.network_isolation
