"""Tools for the LELU patch series (stdlib only; see tools/lelu)."""
