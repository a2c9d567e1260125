# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-nodeps.txt | sha1sum | cut -c1-12)
PORT ?= 8501

.PHONY: run test lab bench clean-venv browser screenshots

# Set-up. requirements-nodeps.txt holds packages whose metadata pins an old torch/numpy/Pillow; they are
# installed without their dependencies, as a step of their own, and proven on ours by tests/test_faces.py
# (facenet-pytorch: the MTCNN face detector, its weights inside the wheel).
$(STAMP): requirements.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -r requirements-nodeps.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# End-to-end tests drive Debian's chromium (browser downloads by test tools fail here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the end-to-end tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lab: $(STAMP)
	$(PY) -m leakage lab build

# Everything the Lessons page needs, built, and every step run once, so a class sees each result at once
# (about half an hour on a 2-core CPU the first time; seconds once built and run).
.PHONY: lesson
lesson: $(STAMP) lab
	$(PY) -m leakage lesson run --build

run: $(STAMP) lab
	$(VENV)/bin/streamlit run app.py --server.port $(PORT)

# The lab CLIP and its control first, on both cores (many tests share them; in a worker they would train on
# one thread while the other worker waits for them), then the files spread over workers, one file each at
# a time (--dist loadfile: a file's fixtures, such as its Ray cluster or its small lab, are set up once). The
# suite waits on servers, browsers and Ray for about a third of its time: two workers fill those waits (three
# measured slower: Ray and training then fight for the two cores).
# TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test: $(STAMP) browser
	$(PY) -m leakage lab build lab lab-control
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# The README's pictures, from the browser tests (a plain test run writes only to temporary folders).
screenshots: $(STAMP) browser
	LEAKAGE_SCREENSHOTS=1 $(PY) -m pytest -q -m e2e

bench: $(STAMP)
	$(PY) -m bench.run_all

clean-venv:
	rm -rf $(VENV)
