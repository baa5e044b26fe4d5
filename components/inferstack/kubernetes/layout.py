"""Where things live inside a serving pod: one place, so containers and volumes agree."""

from __future__ import annotations

MODEL_MOUNT = "/models"
HUB_CACHE = f"{MODEL_MOUNT}/hub"  # Hugging Face hub cache on the model volume
GGUF_DIR = f"{MODEL_MOUNT}/gguf"
OLLAMA_DIR = f"{MODEL_MOUNT}/ollama"
HOME = "/home/inferstack"
RUN_AS = 1000

MODEL_VOLUME = "model-cache"
SHM_VOLUME = "dshm"

# Writable scratch for a read-only root filesystem: (volume, mount path, env vars, size).
# Each gets its own emptyDir so one runaway cache cannot starve the others.
SCRATCH: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("tmp", "/tmp", ("TMPDIR",), "2Gi"),
    ("home", HOME, ("HOME",), "1Gi"),
    ("xdg-cache", "/var/cache/inferstack", ("XDG_CACHE_HOME",), "4Gi"),
    ("xdg-config", "/etc/inferstack", ("XDG_CONFIG_HOME",), "64Mi"),
    ("hf-home", "/var/cache/huggingface", ("HF_HOME",), "1Gi"),
)
# Caches of the Python/torch runtimes (vLLM, TGI): compiled kernels and graphs.
TORCH_SCRATCH: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("vllm-cache", "/var/cache/vllm", ("VLLM_CACHE_ROOT",), "4Gi"),
    ("triton-cache", "/var/cache/triton", ("TRITON_CACHE_DIR",), "2Gi"),
    ("inductor-cache", "/var/cache/torchinductor", ("TORCHINDUCTOR_CACHE_DIR",), "4Gi"),
)
