"""Serving engines behind one interface (base.py): `lean` (own KV cache, direct SDPA), `hf-cb` (HF CB)."""
