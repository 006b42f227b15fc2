"""What emocap's tests, benchmarks and developer scripts share, kept out of the installed product.

* `faces`: the two public-domain portraits the bundled sample clip is made of, and frames of real
  faces built from them (the clip itself, src/emocap/samples/faces.mp4, is a product asset);
* `chromium`: headless Chromium driven over its DevTools protocol, for the browser tests and
  `benchmarks/web_latency.py --browser`.

A package beside `emocap`, not inside it: `pip install .` leaves it out (pyproject.toml's
`packages.find` includes `emocap` alone), so no user gets a test fixture or a browser driver. In a
checkout it is importable as `emocap` is: the editable install (`pip install -e .`, what
scripts/test.sh makes) puts src/ on the path, as does `PYTHONPATH=src`. So
`python benchmarks/NAME.py`, `python scripts/NAME.py` and the tests import it by name, and none of
them puts another folder on sys.path by hand.
"""
