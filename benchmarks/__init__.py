"""Side-by-side benchmarks of evalkit and peer libraries (see README.md in this folder)."""
