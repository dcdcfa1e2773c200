"""Benchmarks. Each module here with a `main()` measures one thing against a baseline taken in the same run
and reports ratios, so that figures from different machines compare. `python -m bench` runs them all;
`python -m bench.<name>` runs one."""
