"""Harness for the mm/gup pinning series: base tree, series workflow, kernel
build, QEMU test run and results."""
