"""Benchmarks of the Minke engine against plain fabric and Ansible (see bench/RESULTS.md)."""
