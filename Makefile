# Quick start (README): `make demo` and `make test`. Each installs what is missing
# (tools/install.sh: project venv, torch, mmcv, the OpenMMLab stack) first: the demo
# an mmcv without compiled ops (pretraining imports none; built in seconds), the
# tests the compiled ops too (a cached wheel, else built once: about 11 minutes on 2
# cores), into the same environment.
DEMO_CONFIG ?= configs/demo/mae_vit-tiny_demo.py
DEMO_WORK_DIR ?= work_dirs/demo
PYTEST_ARGS ?= -q

.PHONY: install demo test test-fast lint

install:
	bash tools/install.sh --tests

# mmcv without its ops warns at import that MultiScaleDeformableAttention is missing
# (the demo does not use it)
demo: export PYTHONWARNINGS = ignore:Fail to import ``MultiScaleDeformableAttention``
demo:
	PY=$$(bash tools/install.sh) && \
	$$PY tools/dataset_converters/prepare_demo_images.py data/demo && \
	$$PY tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR) && \
	$$PY tools/analysis_tools/demo_summary.py $(DEMO_CONFIG) $(DEMO_WORK_DIR)

# the whole suite (the README's command and CI's), its 15 slowest tests listed at the end
test:
	PY=$$(bash tools/install.sh --tests) && \
	$$PY -m pytest tests $(PYTEST_ARGS) --durations=15

# the inner loop: without the tests marked slow (compile, full-size, multi-process, bench tools)
test-fast:
	PY=$$(bash tools/install.sh --tests) && \
	$$PY -m pytest tests $(PYTEST_ARGS) -m "not slow"

lint:
	PY=$$(bash tools/install.sh --tests) && $$PY -m ruff check mmmim tools tests
