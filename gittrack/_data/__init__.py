"""Data and artifacts through DVC: hashing, the cache, remotes and pointers."""
