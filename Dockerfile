# The image CI's C-simulation runs in: Python 3.11, g++, the vitflow package and its pinned
# dependencies, installed through the same scripts/setup.sh that the README's first command runs.
FROM python:3.11-slim-bookworm

# The CPU build of torch (the default PyPI wheel is a multi-GB CUDA build).
ENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /opt/vitflow
COPY . /opt/vitflow
RUN bash scripts/setup.sh

CMD ["python3", "-m", "pytest"]
